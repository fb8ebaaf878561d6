"""Rate limits of the client API: Mastodon's headers on every answer, 429 past the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.test import Client

from parvis.publishing.models import Post
from tests.api.conftest import Api


def test_every_api_answer_says_where_the_caller_stands(api: Api, settings) -> None:
    settings.PARVIS_API_RATE_LIMIT = 50
    first = api.get("/api/v1/timelines/home")
    second = api.get("/api/v1/accounts/verify_credentials")
    assert first["X-RateLimit-Limit"] == "50"
    assert int(first["X-RateLimit-Remaining"]) == int(second["X-RateLimit-Remaining"]) + 1
    reset = datetime.strptime(second["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert timedelta(0) < reset.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(minutes=5)
    # Errors are counted and say so too.
    missing = api.get("/api/v1/statuses/1")
    assert missing.status_code == 404
    assert "X-RateLimit-Remaining" in missing


def test_a_token_past_its_limit_gets_429_and_changes_nothing(api: Api, settings) -> None:
    settings.PARVIS_API_RATE_LIMIT = 3
    for _ in range(3):
        assert api.get("/api/v1/timelines/home").status_code == 200
    refused = api.post("/api/v1/statuses", {"status": "Trop tard"})
    assert refused.status_code == 429
    assert "error" in refused.json()
    assert refused["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 300
    assert not Post.objects.exists()


def test_tokens_and_anonymous_callers_are_counted_apart(
    api: Api, token_for, publisher, function_account, settings
) -> None:
    other = Api(token_for(publisher, function_account))
    cache.clear()  # the OAuth exchanges that made the tokens were counted
    settings.PARVIS_API_RATE_LIMIT = 2
    settings.PARVIS_API_ANONYMOUS_RATE_LIMIT = 1
    for _ in range(2):
        assert api.get("/api/v1/timelines/home").status_code == 200
    assert api.get("/api/v1/timelines/home").status_code == 429
    assert other.get("/api/v1/timelines/home").status_code == 200
    anonymous = Api()
    assert anonymous.get("/api/v1/timelines/public")["X-RateLimit-Limit"] == "1"
    assert anonymous.get("/api/v1/timelines/public").status_code == 429


def test_invented_tokens_do_not_escape_the_address_limit(db, settings) -> None:
    settings.PARVIS_API_ADDRESS_RATE_LIMIT = 4
    answers = [
        Api(f"invented-{n}").get("/api/v1/accounts/verify_credentials").status_code
        for n in range(6)
    ]
    assert answers == [401, 401, 401, 401, 429, 429]


def test_oauth_is_limited_and_pages_are_not(db, settings) -> None:
    settings.PARVIS_API_ANONYMOUS_RATE_LIMIT = 1
    client = Client(HTTP_HOST="social.blois.fr")
    assert client.post("/oauth/token", {"grant_type": "password"}).status_code == 400
    assert client.post("/oauth/token", {"grant_type": "password"}).status_code == 429
    # The consent page is a page of the site, for a person in a browser.
    for path in ("/health", "/oauth/authorize"):
        answer = client.get(path)
        assert answer.status_code != 429, path
        assert "X-RateLimit-Limit" not in answer, path


def test_errors_speak_the_language_the_app_asks_for(api: Api, settings) -> None:
    french = api.get("/api/v1/statuses/1")
    assert french.status_code == 404 and french["Content-Language"] == "fr"
    english = api.get("/api/v1/statuses/1", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert english["Content-Language"] == "en"
    assert english.json()["error"] != french.json()["error"]
    assert "Accept-Language" in english["Vary"]
    settings.PARVIS_API_RATE_LIMIT = 0
    refused = api.get("/api/v1/timelines/home", **{"Accept-Language": "en"})
    assert refused.json() == {"error": "Too many requests: try again later."}
    # Public pages keep their language in the URL, whatever the browser says.
    page = Client(HTTP_HOST="social.blois.fr").get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "fr"
    assert "Accept-Language" not in page.get("Vary", "")
