"""The small discovery endpoints through the API: the empty lists of what Parvis does
not have, familiar followers, and the instance's peers.
"""

from __future__ import annotations

from typing import Any

import pytest

from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.identity.models import Account, AccountKind, Domain
from parvis.identity.services import create_account
from parvis.interactions.services import record_follow
from tests.api.conftest import Api

# --- helpers ---------------------------------------------------------------------------


def remote_account(name: str, host: str = "remote.example") -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name,
        uri=f"https://{host}/users/{name}",
        remote_host=host,
        kind=AccountKind.PERSON,
        display_name=name.title(),
    )


def names(results: list[dict[str, Any]]) -> list[str]:
    return [entry["acct"] for entry in results]


@pytest.fixture
def elodie(domain: Domain) -> Account:
    return create_account(
        domain=domain, handle="elodie", kind=AccountKind.PERSON, display_name="Élodie Dupré-Lœuvre"
    )


@pytest.fixture
def musee(domain: Domain) -> Account:
    return create_account(
        domain=domain, handle="musee", kind=AccountKind.INSTITUTION, display_name="Musée"
    )


# --- tests -----------------------------------------------------------------------------


def test_what_parvis_does_not_have_is_an_empty_list(api: Api, account: Account) -> None:
    anonymous = Api()
    for path in (
        "/api/v1/custom_emojis",
        "/api/v1/trends",
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/trends/links",
        "/api/v1/instance/activity",
        f"/api/v1/accounts/{account.pk}/featured_tags",
    ):
        answer = anonymous.get(path)
        assert answer.status_code == 200 and answer.json() == [], path
    for path in ("/api/v1/announcements", "/api/v1/featured_tags", "/api/v1/endorsements"):
        assert api.get(path).json() == [], path
        assert anonymous.get(path).status_code == 401, path
    assert anonymous.get("/api/v1/accounts/424242/featured_tags").status_code == 404


def test_familiar_followers_are_followed_accounts_that_follow(
    api: Api, account: Account, function_account: Account, musee: Account, elodie: Account
) -> None:
    record_follow(account, musee, "", approved=True)
    record_follow(account, elodie, "", approved=True)
    record_follow(musee, function_account, "", approved=True)
    record_follow(elodie, function_account, "", approved=False)  # still pending
    paul = remote_account("paul")
    record_follow(paul, function_account, "", approved=True)  # not followed by the caller
    answer = api.get(
        "/api/v1/accounts/familiar_followers",
        {"id[]": [str(function_account.pk), str(musee.pk), "nope"]},
    )
    assert answer.status_code == 200, answer.content
    assert [(entry["id"], names(entry["accounts"])) for entry in answer.json()] == [
        (str(function_account.pk), ["musee"]),
        (str(musee.pk), []),
    ]
    assert Api().get("/api/v1/accounts/familiar_followers", {"id[]": "1"}).status_code == 401


def test_peers_are_the_servers_of_known_accounts(db) -> None:
    for name, host in (("a", "mastodon.example"), ("b", "mastodon.example"), ("c", "bad.example")):
        remote = remote_account(name, host)
        RemoteActor.objects.create(
            account=remote, uri=remote.uri, domain=host, inbox=f"{remote.uri}/inbox"
        )
    BlockedDomain.objects.create(domain="bad.example")
    answer = Api().get("/api/v1/instance/peers")
    assert answer.status_code == 200 and answer.json() == ["mastodon.example"]
