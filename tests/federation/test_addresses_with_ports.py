"""Addresses of servers on a non-default port (``ville@localhost:8000``, trials and the
two-server interop test): WebFinger answers them with their port, and only for the
port this server's URLs use; ``resolve_address`` takes a host and a port, nothing else."""

from __future__ import annotations

import pytest
from django.test import Client

from parvis.federation.remote import RemoteError, resolve_address
from parvis.identity.models import Account

AP = "application/activity+json"


@pytest.fixture
def trial(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    settings.PARVIS_URL_SCHEME = "http"
    settings.PARVIS_URL_PORT = "8000"


def webfinger(resource: str, host: str = "social.blois.fr:8000"):
    return Client(HTTP_HOST=host).get("/.well-known/webfinger", {"resource": resource})


@pytest.mark.parametrize(
    "resource",
    [
        "acct:ville@social.blois.fr:8000",
        "acct:ville@social.blois.fr",
        "http://social.blois.fr:8000/@ville",
    ],
)
def test_a_trial_on_a_port_answers_with_its_port(trial, account: Account, resource: str) -> None:
    response = webfinger(resource)
    assert response.status_code == 200, response.content
    document = response.json()
    # The subject is the address that finds the account again (Mastodon re-asks it).
    assert document["subject"] == "acct:ville@social.blois.fr:8000"
    self_link = next(link for link in document["links"] if link["rel"] == "self")
    assert self_link == {"rel": "self", "type": AP, "href": "http://social.blois.fr:8000/@ville"}


@pytest.mark.parametrize(
    "resource",
    [
        "acct:ville@social.blois.fr:8001",
        "acct:ville@social.blois.fr:80",
        "acct:ville@social.blois.fr:\u0668\u0660\u0660\u0660",  # Arabic-Indic digits
        "acct:ville@social.blois.fr:",
        "http://social.blois.fr:8001/@ville",
    ],
)
def test_another_port_is_another_server(trial, account: Account, resource: str) -> None:
    assert webfinger(resource).status_code == 404


def test_the_default_port_may_be_written(settings, account: Account) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    response = webfinger("acct:ville@social.blois.fr:443", host="social.blois.fr")
    assert response.status_code == 200
    assert response.json()["subject"] == "acct:ville@social.blois.fr"


@pytest.mark.parametrize(
    "address",
    [
        "alice@evil.example/admin?",
        "alice@evil.example#x",
        "alice@good.example@evil.example",
        "alice@evil.example\\@good.example",
        "alice@exa mple.org",
        "alice@example.org:99999",
        "alice@0x7f.1",
        "alice",
        "@alice@",
    ],
)
def test_resolve_address_takes_only_a_host_and_a_port(db, address: str) -> None:
    # Refused before any request: none of these hosts exists, and no fetch is attempted.
    with pytest.raises(RemoteError, match=r"not an address|does not name a server"):
        resolve_address(address)
