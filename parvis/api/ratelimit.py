"""Rate limits of the client API and OAuth endpoints, with Mastodon's headers.

Mastodon counts each token's requests over five minutes (1,500) and, without a token,
each address's (300); every answer says where the caller stands in
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``, which
Mastodon.py reads to pace itself, and a caller over its limit gets 429 with
``Retry-After``. An address is also limited over all its tokens (7,500), or a client
could escape the per-token limit by inventing tokens, each costing a lookup.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext as _

from parvis.core.clients import client_ip, count_request

WINDOW = 300
# The consent page (/oauth/authorize) is a page for a person, not an API call.
LIMITED_PATHS = ("/api/", "/oauth/token", "/oauth/revoke")


def _reset(ends: float) -> str:
    return datetime.fromtimestamp(ends, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _token(request: HttpRequest) -> str | None:
    scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    # The count's cache key must not hold the token itself.
    return hashlib.sha256(credentials.strip().encode()).hexdigest()[:32]


def _standing(request: HttpRequest) -> tuple[int, int, float, bool]:
    """The caller's limit, its requests in the window, when the window ends, and whether
    its address went over the limit of all its tokens."""
    address = client_ip(request)
    everything, _ends = count_request("api-address", address, window=WINDOW)
    token = _token(request)
    if token is None:
        limit = settings.PARVIS_API_ANONYMOUS_RATE_LIMIT
        count, ends = count_request("api-anonymous", address, window=WINDOW)
    else:
        limit = settings.PARVIS_API_RATE_LIMIT
        count, ends = count_request("api-token", token, window=WINDOW)
    return limit, count, ends, everything > settings.PARVIS_API_ADDRESS_RATE_LIMIT


def _refusal(ends: float) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"error": _("Trop de requêtes : réessayez plus tard.")}),
        status=429,
        content_type="application/json",
    )
    response["Retry-After"] = str(max(1, int(ends - time.time())))
    return response


def _headers(response: HttpResponse, limit: int, count: int, ends: float) -> HttpResponse:
    response["X-RateLimit-Limit"] = str(limit)
    response["X-RateLimit-Remaining"] = str(max(0, limit - count))
    response["X-RateLimit-Reset"] = _reset(ends)
    return response


@sync_and_async_middleware
def rate_limit_middleware(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]:
    """Count API and OAuth requests; refuse those over their limit before any work."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            if not request.path.startswith(LIMITED_PATHS):
                return await get_response(request)  # type: ignore[misc,no-any-return]
            limit, count, ends, flooding = _standing(request)
            if flooding or count > limit:
                return _headers(_refusal(ends), limit, count, ends)
            response = await get_response(request)  # type: ignore[misc]
            return _headers(response, limit, count, ends)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(LIMITED_PATHS):
            return get_response(request)  # type: ignore[return-value]
        limit, count, ends, flooding = _standing(request)
        if flooding or count > limit:
            return _headers(_refusal(ends), limit, count, ends)
        response = get_response(request)
        return _headers(response, limit, count, ends)  # type: ignore[arg-type]

    return middleware
