"""Client addresses behind proxies and per-client rate limits (checklist A1, N4)."""

import logging

import pytest
from django.test import RequestFactory

from parvis.core.clients import RateLimitedRecords, client_ip, rate_limited


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


def test_a_refused_flood_is_logged_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            rate_limited("t", "flood", limit=3, window=60)
    lines = [r.getMessage() for r in caplog.records if r.name == "parvis.core.clients"]
    assert lines == ["flood over its t limit (3 requests in 60 s): refused until the window ends"]


def test_429_answers_are_not_logged_one_by_one() -> None:
    drop = RateLimitedRecords()
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Too Many", (), None)
    record.status_code = 429
    assert drop.filter(record) is False
    record.status_code = 400
    assert drop.filter(record) is True
    assert any(
        isinstance(f, RateLimitedRecords) for f in logging.getLogger("django.request").filters
    )
