"""Who is asking: the client address behind trusted proxies, and per-client rate limits."""

from __future__ import annotations

import functools
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # Parsed once per setting value (read at each call: tests change it).
    return any(ip in net for net in _networks(tuple(settings.PARVIS_TRUSTED_PROXIES)))


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


def count_request(scope: str, key: str, *, window: int) -> tuple[int, float]:
    """Count one request of ``key`` in ``scope``'s current fixed window of ``window``
    seconds; return the requests counted in it so far and when it ends (epoch seconds).

    The count lives in the shared cache: coarse, but cheap enough for every request,
    and shared by all processes when the cache is.
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
    return count, float((slot + 1) * window)


def rate_limited(scope: str, key: str, *, limit: int, window: int) -> int | None:
    """Count one request of ``key`` in ``scope``; return seconds to wait when over ``limit``.

    The first refusal of a key in a window is logged, once: the refused requests
    themselves are not (:class:`RateLimitedRecords`), or a flood would become a flood
    of log lines.
    """
    count, ends = count_request(scope, key, window=window)
    if count > limit:
        if count == limit + 1:
            logger.warning(
                "%s over its %s limit (%s requests in %s s): refused until the window ends",
                key,
                scope,
                limit,
                window,
            )
        return max(1, int(ends - time.time()))
    return None


class RateLimitedRecords(logging.Filter):
    """Drops the log records of 429 answers (``django.request`` logs every 4xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 429
