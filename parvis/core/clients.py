"""Who is asking: the client address behind trusted proxies, and per-client rate limits."""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(net, strict=False) for net in settings.PARVIS_TRUSTED_PROXIES
    )


def client_ip(request: HttpRequest) -> str:
    """The address of the client, reading X-Forwarded-For only from trusted proxies.

    A client can put anything in X-Forwarded-For; only the entries appended by
    our own proxies count, so the address is the last one no trusted proxy added.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if not _trusted(address):
        return address
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([a for a in forwarded if a]):
        if not _trusted(hop):
            return hop
    return address


def rate_limited(scope: str, key: str, *, limit: int, window: int) -> int | None:
    """Count one request of ``key`` in ``scope``; return seconds to wait when over ``limit``.

    A fixed window in the shared cache: coarse, but cheap enough for every
    inbound request, and shared by all processes when the cache is.
    """
    now = time.time()
    slot = int(now // window)
    name = f"rate:{scope}:{key}:{slot}"
    cache.add(name, 0, timeout=window * 2)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=window * 2)
        count = 1
    if count > limit:
        return max(1, int((slot + 1) * window - now))
    return None
