"""OAuth 2 as Mastodon apps use it: registration, consent with an account, tokens, scopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

from parvis.api.models import Application, TokenAccount
from parvis.identity.models import Account, RoleKind, Staff
from tests.api.conftest import REDIRECT, Api, authorize, register


def test_registration_answers_the_secret_once_and_stores_it_hashed(db) -> None:
    app = register("read write")
    assert app["client_id"] and app["client_secret"]
    assert app["scopes"] == ["read", "write"]
    assert app["redirect_uris"] == [REDIRECT] and app["redirect_uri"] == REDIRECT
    stored = Application.objects.get(client_id=app["client_id"])
    assert stored.client_secret != app["client_secret"]  # hashed at rest


def test_registration_refuses_what_is_wrong_and_stores_nothing(db) -> None:
    cases: list[dict[str, Any]] = [
        {"redirect_uris": REDIRECT},  # no name
        {"client_name": "x", "redirect_uris": "javascript:alert(1)"},
        {"client_name": "x", "redirect_uris": "nothing"},
        {"client_name": "x", "redirect_uris": REDIRECT, "scopes": "read admin:everything"},
        {"client_name": "x" * 61, "redirect_uris": REDIRECT},
    ]
    for case in cases:
        response = Api().post("/api/v1/apps", case)
        assert response.status_code == 422, (case, response.content)
        assert set(response.json()) == {"error"}
    assert not Application.objects.exists()


def test_form_encoded_registration_with_rails_arrays(db) -> None:
    response = Api().post(
        "/api/v1/apps",
        {"client_name": "Forms", "redirect_uris[]": [REDIRECT, "tusky://oauth"]},
        json=False,
    )
    assert response.status_code == 200, response.content
    assert response.json()["redirect_uris"] == [REDIRECT, "tusky://oauth"]


def test_the_token_acts_as_the_account_chosen_at_consent(
    publisher: Staff, account: Account, function_account: Account, app: dict[str, Any]
) -> None:
    token = authorize(publisher, app, function_account)
    me = Api(token).get("/api/v1/accounts/verify_credentials")
    assert me.status_code == 200, me.content
    assert me.json()["username"] == "maire"
    assert TokenAccount.objects.get().account == function_account
    verified = Api(token).get("/api/v1/apps/verify_credentials")
    assert verified.json()["name"] == "Test app"


def test_consent_offers_only_the_staff_members_accounts(
    make_staff, account: Account, function_account: Account, app: dict[str, Any]
) -> None:
    editor = make_staff("redac", (account, RoleKind.EDITOR))
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(editor)
    query = urlencode(
        {"response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT}
    )
    page = browser.get(f"/oauth/authorize?{query}").content.decode()
    assert "@ville@" in page and "@maire@" not in page
    # Another account's id, forged into the form, is refused.
    forged = browser.post(
        f"/oauth/authorize?{query}", {"account": str(function_account.pk), "decision": "allow"}
    )
    assert forged.status_code == 400
    assert not TokenAccount.objects.exists()


def test_consent_needs_a_login_and_refusal_redirects_with_an_error(
    publisher: Staff, account: Account, app: dict[str, Any]
) -> None:
    query = urlencode(
        {"response_type": "code", "client_id": app["client_id"], "redirect_uri": REDIRECT}
    )
    anonymous = Client().get(f"/oauth/authorize?{query}")
    assert anonymous.status_code == 302 and "/backoffice/" in anonymous["Location"]
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(publisher)
    denied = browser.post(
        f"/oauth/authorize?{query}", {"account": str(account.pk), "decision": "deny"}
    )
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied["Location"]).query)["error"] == ["access_denied"]


def test_unknown_client_and_foreign_redirect_are_refused_on_the_page(
    publisher: Staff, app: dict[str, Any]
) -> None:
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(publisher)
    for query in (
        {"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": "https://evil.example/",
        },
    ):
        response = browser.get("/oauth/authorize?" + urlencode(query))
        assert response.status_code == 400, query


def test_out_of_band_code_is_shown_to_copy(publisher: Staff, account: Account) -> None:
    oob = "urn:ietf:wg:oauth:2.0:oob"
    app = register("read", redirect=oob)
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(publisher)
    query = urlencode({"response_type": "code", "client_id": app["client_id"], "redirect_uri": oob})
    page = browser.post(
        f"/oauth/authorize?{query}", {"account": str(account.pk), "decision": "allow"}
    )
    assert page.status_code == 200
    assert 'id="authorization-code"' in page.content.decode()


def test_pkce_is_checked_when_used(publisher: Staff, account: Account, app: dict[str, Any]) -> None:
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(publisher)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
    )
    answer = browser.post(
        f"/oauth/authorize?{query}", {"account": str(account.pk), "decision": "allow"}
    )
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    token = Client().post(
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            "code_verifier": "not-the-verifier-at-all-not-the-verifier-at-all",
        },
    )
    assert token.status_code == 400
    assert token.json()["error"] == "invalid_grant"


def test_client_credentials_give_an_app_token_without_account(app: dict[str, Any]) -> None:
    answer = Client().post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read",
        },
    )
    assert answer.status_code == 200, answer.content
    assert isinstance(answer.json()["created_at"], int)  # Mastodon's Token entity has it
    token = answer.json()["access_token"]
    assert Api(token).get("/api/v1/apps/verify_credentials").status_code == 200
    no_user = Api(token).get("/api/v1/accounts/verify_credentials")
    assert no_user.status_code == 422 and "error" in no_user.json()


def test_token_as_json_body_as_mastodon_allows(
    publisher: Staff, account: Account, app: dict[str, Any]
) -> None:
    answer = Client().post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content


def test_scopes_are_enforced(publisher: Staff, account: Account, app: dict[str, Any]) -> None:
    read_only = authorize(publisher, app, account, scope="read")
    denied = Api(read_only).post("/api/v1/statuses", {"status": "Bonjour"})
    assert denied.status_code == 403 and "error" in denied.json()
    granular = authorize(publisher, app, account, scope="read:accounts")
    assert Api(granular).get("/api/v1/accounts/verify_credentials").status_code == 200
    assert Api(granular).get("/api/v1/timelines/home").status_code == 403


def test_scope_beyond_the_registration_is_refused(publisher: Staff, account: Account) -> None:
    app = register("read")
    browser = Client(HTTP_HOST="social.blois.fr")
    browser.force_login(publisher)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "read write",
        }
    )
    response = browser.get(f"/oauth/authorize?{query}")
    assert response.status_code == 400
    assert "write" in response.content.decode()


def test_revoked_missing_and_garbage_tokens_get_401(api: Api, app: dict[str, Any]) -> None:
    assert api.get("/api/v1/accounts/verify_credentials").status_code == 200
    revoke = Client().post(
        "/oauth/revoke",
        {"token": api.token, "client_id": app["client_id"], "client_secret": app["client_secret"]},
    )
    assert revoke.status_code == 200 and revoke.json() == {}
    for token in (api.token, None, "garbage", "x" * 5000):
        response = Api(token).get("/api/v1/accounts/verify_credentials")
        assert response.status_code == 401, token
        assert response.json() == {"error": response.json()["error"]}


def test_metadata_lists_the_endpoints(db) -> None:
    document = Client().get("/.well-known/oauth-authorization-server").json()
    assert document["token_endpoint"].endswith("/oauth/token")
    assert "read:statuses" in document["scopes_supported"]
    assert document["app_registration_endpoint"].endswith("/api/v1/apps")
