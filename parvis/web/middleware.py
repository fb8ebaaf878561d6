"""Language from the URL only, so that a page's bytes depend on its URL alone.

French pages live at ``/…`` and English ones at ``/en/…``. Unlike Django's
LocaleMiddleware, neither cookies nor Accept-Language are consulted, so no
``Vary`` header splits the shared cache. The client API is the exception: its
answers are per token, never shared, and apps send Accept-Language for the
language of error messages, as Mastodon reads it.

The middleware works in both modes: under ASGI a sync-only middleware in the
middle of the stack would make Django hop between threads around it on every
request.
"""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.decorators import sync_and_async_middleware

API_PATHS = ("/api/", "/oauth/token", "/oauth/revoke")


def _activate(request: HttpRequest) -> str:
    if request.path_info.startswith(API_PATHS):
        language = translation.get_language_from_request(request)
    else:
        language = translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _mark(request: HttpRequest, response: HttpResponse, language: str) -> HttpResponse:
    response.headers.setdefault("Content-Language", language)
    if request.path_info.startswith(API_PATHS):
        patch_vary_headers(response, ("Accept-Language",))
    return response


@sync_and_async_middleware
def path_language_middleware(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            language = _activate(request)
            response = await get_response(request)  # type: ignore[misc]
            return _mark(request, response, language)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        language = _activate(request)
        response = get_response(request)
        return _mark(request, response, language)  # type: ignore[arg-type]

    return middleware
