"""Errors as Mastodon answers them: ``{"error": "…"}`` with Mastodon's status codes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


class ApiError(Exception):
    """Ends a request with ``status`` and ``{"error": message}``; nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found() -> ApiError:
    return ApiError(404, _("Enregistrement introuvable"))


def unauthorized() -> ApiError:
    return ApiError(401, _("Le jeton d'accès est invalide"))


def error_response(status: int, message: str) -> HttpResponse:
    """The JSON body of an error, with the status it goes with."""
    return JsonResponse({"error": message}, status=status)


def handle_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = error_response(exc.status, exc.message)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response
