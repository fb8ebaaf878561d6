"""Language from the URL only, so that a page's bytes depend on its URL alone.

French pages live at ``/…`` and English ones at ``/en/…``. Unlike Django's
LocaleMiddleware, neither cookies nor Accept-Language are consulted, so no
``Vary`` header splits the shared cache.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class PathLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
