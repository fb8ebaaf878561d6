"""Authorized-fetch mode: objects only for servers that sign their GET (actors stay public)."""

import json

import pytest
from django.test import Client

from parvis.federation import signatures
from parvis.federation.models import BlockedDomain
from parvis.federation.remote import fetch_actor
from parvis.identity.models import Account, Staff
from parvis.publishing import services
from parvis.publishing.services import Content
from tests.federation.signed import Remote

pytestmark = pytest.mark.django_db(transaction=True)
AP = "application/activity+json"


def signed_get(path: str, remote: Remote, *, key: object | None = None):
    url = f"https://social.blois.fr{path}"
    headers = {"Host": "social.blois.fr", "Accept": AP}
    headers.update(
        signatures.sign_cavage("GET", url, headers, None, remote.key_id, key or remote.key)
    )
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Host"}
    return Client(HTTP_HOST="social.blois.fr").get(path, secure=True, **meta)


@pytest.fixture
def secure(settings, remote: Remote, publisher: Staff, account: Account) -> int:
    settings.PARVIS_AUTHORIZED_FETCH = True
    return services.publish_post(publisher, account, Content(text="x")).pk


def test_unsigned_fetches_are_refused_but_the_actor_is_served(secure: int) -> None:
    client = Client(HTTP_HOST="social.blois.fr")
    for path in (
        f"/@ville/{secure}",
        "/@ville/outbox",
        "/@ville/followers",
        "/@ville/following",
        "/@ville/collections/featured",
    ):
        assert client.get(path, HTTP_ACCEPT=AP, secure=True).status_code == 401, path
    assert client.get("/@ville", HTTP_ACCEPT=AP, secure=True).status_code == 200
    # The HTML page of a post stays public.
    assert client.get(f"/@ville/{secure}", secure=True).status_code == 200


def test_signed_fetches_are_served_privately(secure: int, remote: Remote) -> None:
    response = signed_get(f"/@ville/{secure}", remote)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert "Signature" in response["Vary"]
    assert signed_get("/@ville/outbox", remote).status_code == 200


def test_wrong_key_and_blocked_domains_are_refused(secure: int, remote: Remote) -> None:
    wrong = signed_get(f"/@ville/{secure}", remote, key=signatures.generate_rsa_key())
    assert wrong.status_code == 401
    BlockedDomain.objects.create(domain="127.0.0.1")
    assert signed_get(f"/@ville/{secure}", remote).status_code in (401, 403)


def test_without_the_mode_objects_are_public(settings, account: Account) -> None:
    settings.PARVIS_AUTHORIZED_FETCH = False
    settings.ALLOWED_HOSTS = ["*"]
    client = Client(HTTP_HOST="social.blois.fr")
    assert client.get("/@ville/outbox", HTTP_ACCEPT=AP, secure=True).status_code == 200


def test_parvis_signs_its_own_fetches_with_the_instance_actor(
    remote: Remote, account: Account
) -> None:
    """So that servers in authorized-fetch mode answer Parvis."""
    document = json.loads(Client(HTTP_HOST="social.blois.fr").get("/actor", HTTP_ACCEPT=AP).content)
    assert document["id"] == "https://social.blois.fr/actor"
    assert document["type"] == "Application"
    public = signatures.load_public_pem(document["publicKey"]["publicKeyPem"])

    fetch_actor(remote.uri)
    (fetch,) = remote.sink.fetches
    verified = signatures.verify(
        "GET", remote.sink.url(fetch.path), fetch.headers, None, lambda _key_id: public
    )
    assert verified.key_id == "https://social.blois.fr/actor#main-key"
