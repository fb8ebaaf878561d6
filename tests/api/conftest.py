"""API test helpers: registered applications and tokens obtained through the real OAuth flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from parvis.identity.models import Account, Staff

REDIRECT = "https://app.example/callback"


class Api:
    """A Django test client speaking to the API with a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client(HTTP_HOST="social.blois.fr")
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        return merged

    def get(self, path: str, data: Any = None, **headers: str):
        return self.client.get(path, data, headers=self._headers(headers))

    def post(self, path: str, data: Any = None, *, json: bool = True, **headers: str):
        if json:
            return self.client.post(
                path, data or {}, content_type="application/json", headers=self._headers(headers)
            )
        return self.client.post(path, data or {}, headers=self._headers(headers))

    def delete(self, path: str, **headers: str):
        return self.client.delete(path, headers=self._headers(headers))


def register(scopes: str = "read write follow", redirect: str = REDIRECT) -> dict[str, Any]:
    response = Api().post(
        "/api/v1/apps",
        {"client_name": "Test app", "redirect_uris": redirect, "scopes": scopes},
    )
    assert response.status_code == 200, response.content
    return response.json()


def authorize(
    staff: Staff,
    app: dict[str, Any],
    account: Account,
    *,
    scope: str = "read write follow",
    pkce: bool = True,
) -> str:
    """A user token through the consent page and the token endpoint, as an app gets one."""
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(staff)
    query: dict[str, str] = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "xyz",
    }
    verifier = secrets.token_urlsafe(48)
    if pkce:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query |= {"code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256"}
    url = "/oauth/authorize?" + urlencode(query)
    assert browser.get(url).status_code == 200
    answer = browser.post(url, {"account": str(account.pk), "decision": "allow"})
    assert answer.status_code == 302, answer.content
    location = urlsplit(answer["Location"])
    code = parse_qs(location.query)["code"][0]
    token = Client(HTTP_HOST="social.blois.fr").post(
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            **({"code_verifier": verifier} if pkce else {}),
        },
    )
    assert token.status_code == 200, token.content
    return token.json()["access_token"]


@pytest.fixture(autouse=True)
def _hosts(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]


@pytest.fixture
def app(db) -> dict[str, Any]:
    return register()


@pytest.fixture
def token_for(app) -> Callable[..., str]:
    def make(staff: Staff, account: Account, **options: Any) -> str:
        return authorize(staff, app, account, **options)

    return make


@pytest.fixture
def api(token_for, publisher: Staff, account: Account) -> Api:
    """The API as a publisher of @ville."""
    return Api(token_for(publisher, account))
