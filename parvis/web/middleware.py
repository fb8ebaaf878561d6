"""Language from the URL only, so that a page's bytes depend on its URL alone.

French pages live at ``/…`` and English ones at ``/en/…``. Unlike Django's
LocaleMiddleware, neither cookies nor Accept-Language are consulted, so no
``Vary`` header splits the shared cache.

The middleware works in both modes: under ASGI a sync-only middleware in the
middle of the stack would make Django hop between threads around it on every
request.
"""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.decorators import sync_and_async_middleware


def _activate(request: HttpRequest) -> str:
    language = translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


@sync_and_async_middleware
def path_language_middleware(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            language = _activate(request)
            response = await get_response(request)  # type: ignore[misc]
            response.headers.setdefault("Content-Language", language)
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        language = _activate(request)
        response = get_response(request)
        response.headers.setdefault("Content-Language", language)  # type: ignore[union-attr]
        return response  # type: ignore[return-value]

    return middleware
