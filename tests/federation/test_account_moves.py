"""A hosted account's profile changes and moves reach its followers' servers:
``Update`` of the actor, ``Move`` to an account that names it in ``alsoKnownAs``,
and the actor document's ``alsoKnownAs`` / ``movedTo``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import RequestFactory

from parvis.core.tasks import run_pending
from parvis.federation import ids
from parvis.federation.models import OutboundActivity
from parvis.federation.remote import fetch_actor
from parvis.federation.vocab.actors import render_actor
from parvis.identity.models import Account, Domain, validate_aliases
from parvis.identity.services import create_account, profile_changed
from parvis.interactions import services as interactions
from tests.federation.signed import Remote

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def followed(remote: Remote, account: Account) -> Account:
    """``account``, followed by the remote actor (whose server is the loopback sink)."""
    follower = fetch_actor(remote.uri).account
    interactions.record_follow(follower, account, f"{remote.uri}/follows/1", approved=True)
    return account


def received(remote: Remote, kind: str) -> list[dict]:
    documents = [json.loads(r.body) for r in remote.sink.received if r.path == "/inbox"]
    return [d for d in documents if d["type"] == kind]


def move(*args: str) -> str:
    out = StringIO()
    call_command("move", *args, stdout=out)
    return out.getvalue()


def test_a_profile_change_sends_the_new_actor_to_followers(
    remote: Remote, followed: Account
) -> None:
    followed.display_name = "Ville de Blois — mairie"
    followed.save()
    with transaction.atomic():
        profile_changed(followed)
    run_pending()
    (update,) = received(remote, "Update")
    assert update["actor"] == update["object"]["id"] == ids.actor_uri(followed)
    assert update["object"]["name"] == "Ville de Blois — mairie"
    assert update["object"]["publicKey"]["owner"] == ids.actor_uri(followed)


def test_saving_an_account_in_the_admin_federates_it(remote: Remote, followed: Account) -> None:
    model_admin = admin.site._registry[Account]
    request = RequestFactory().post("/admin/")
    followed.bio = "Mairie de Blois, Loir-et-Cher."
    with transaction.atomic():
        model_admin.save_model(request, followed, form=None, change=True)
    run_pending()
    (update,) = received(remote, "Update")
    assert "Loir-et-Cher" in update["object"]["summary"]


def test_the_actor_names_its_other_identities_and_where_it_moved(
    account: Account, domain: Domain
) -> None:
    assert "alsoKnownAs" not in render_actor(account) and "movedTo" not in render_actor(account)
    account.also_known_as = ["https://mastodon.example/users/ville"]
    new = create_account(domain=domain, handle="mairie", kind="institution", display_name="M")
    account.moved_to = new
    document = render_actor(account)
    assert document["alsoKnownAs"] == ["https://mastodon.example/users/ville"]
    assert document["movedTo"] == ids.actor_uri(new)


def test_moving_to_a_remote_account_that_names_it(remote: Remote, followed: Account) -> None:
    remote.sink.documents["/users/alice"]["alsoKnownAs"] = [ids.actor_uri(followed)]
    output = move("ville@social.blois.fr", remote.uri)
    assert "moved to alice@127.0.0.1" in output
    followed.refresh_from_db()
    assert followed.moved_to is not None and followed.moved_to.uri == remote.uri
    assert render_actor(followed)["movedTo"] == remote.uri
    run_pending()
    (moved,) = received(remote, "Move")
    assert moved["actor"] == moved["object"] == ids.actor_uri(followed)
    assert moved["target"] == remote.uri
    assert "already moved" in move("ville@social.blois.fr", remote.uri)


def test_moving_to_a_hosted_account(remote: Remote, followed: Account, domain: Domain) -> None:
    new = create_account(domain=domain, handle="mairie", kind="institution", display_name="M")
    new.also_known_as = [ids.actor_uri(followed)]
    new.save()
    move("ville@social.blois.fr", "mairie@social.blois.fr")
    run_pending()
    (moved,) = received(remote, "Move")
    assert moved["target"] == ids.actor_uri(new)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{alice}", "does not name https://social.blois.fr/@ville in its alsoKnownAs"),
        ("ville@social.blois.fr", "cannot move to itself"),
        ("nobody@social.blois.fr", "No account nobody@social.blois.fr is hosted"),
        ("not an address", "is not an address of the form user@server"),
    ],
)
def test_refused_moves_change_nothing(
    remote: Remote, followed: Account, target: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        move("ville@social.blois.fr", target.format(alice=remote.uri))
    followed.refresh_from_db()
    assert followed.moved_to is None
    assert not OutboundActivity.objects.filter(body__contains='"Move"').exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://a.example/u", "Une liste d'adresses est attendue"),
        (["javascript:alert(1)"], r"n'est pas une URL http\(s\)"),
        ([42], "Chaque adresse doit être une URL"),
        (["https://a.example/u", "https://a.example/u"], "figure deux fois"),
        ([f"https://a.example/{n}" for n in range(21)], "Au plus 20 adresses"),
    ],
)
def test_other_identities_must_be_a_short_list_of_urls(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_aliases(value)
