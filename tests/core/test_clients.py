"""Client addresses behind proxies and per-client rate limits (checklist A1, N4)."""

import pytest
from django.test import RequestFactory

from parvis.core.clients import client_ip, rate_limited


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "", [], "203.0.113.9"),
        # A client cannot choose its address by sending X-Forwarded-For itself.
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1", ["127.0.0.1/32"], "198.51.100.1"),
        # Forged entries before the one our proxy appended are ignored.
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", ["127.0.0.1/32"], "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1, 10.0.0.2", ["127.0.0.1/32", "10.0.0.0/8"], "198.51.100.1"),
        ("127.0.0.1", "", ["127.0.0.1/32"], "127.0.0.1"),
    ],
)
def test_client_ip(
    settings,
    remote: str,
    forwarded: str,
    trusted: list[str],
    expected: str,
) -> None:
    settings.PARVIS_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_rate_limit_counts_per_key() -> None:
    assert [rate_limited("t", "a", limit=3, window=60) for _ in range(3)] == [None] * 3
    wait = rate_limited("t", "a", limit=3, window=60)
    assert wait is not None and 1 <= wait <= 60
    assert rate_limited("t", "b", limit=3, window=60) is None
