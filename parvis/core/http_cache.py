"""Validators and cache headers for public pages.

A view computes the last change of what it shows from one or two indexed rows,
asks :func:`not_modified` before rendering anything, and passes the same
validators to :func:`cacheable` on the rendered response.
"""

import hashlib
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe


def make_etag(*parts: object) -> str:
    """A strong ETag over the page's identity and versions."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def _apply(response: HttpResponse, etag: str, last_modified: datetime) -> HttpResponse:
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified.timestamp())
    max_age = settings.PARVIS_PUBLIC_MAX_AGE
    response["Cache-Control"] = f"public, max-age={max_age}, stale-while-revalidate=30"
    return response


def not_modified(request: HttpRequest, etag: str, last_modified: datetime) -> HttpResponse | None:
    """Return a 304 response if the client's copy is current, else None."""
    if request.method not in ("GET", "HEAD"):
        return None
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        fresh = etag in tags or "*" in tags
    else:
        since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        fresh = since is not None and int(last_modified.timestamp()) <= since
    if not fresh:
        return None
    return _apply(HttpResponseNotModified(), etag, last_modified)


def cacheable(response: HttpResponse, etag: str, last_modified: datetime) -> HttpResponse:
    """Add ETag, Last-Modified and a shared-cache Cache-Control to ``response``."""
    return _apply(response, etag, last_modified)
