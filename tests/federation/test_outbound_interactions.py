"""Likes, boosts and blocks by hosted accounts reach the other server, signed, and so
do their Undo; what concerns no other server sends nothing."""

from __future__ import annotations

import json

import pytest

from parvis.core.tasks import run_pending
from parvis.federation.models import OutboundActivity
from parvis.federation.remote import fetch_actor
from parvis.identity.models import Account, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Reaction
from parvis.publishing import services as publishing
from parvis.publishing.models import Post
from parvis.publishing.received import ReceivedContent, record_received_post
from tests.federation.signed import Remote, make_remote

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
VILLE = "https://social.blois.fr/@ville"


def drain() -> None:
    for _ in range(5):
        if run_pending() == 0:
            return


def delivered(remote: Remote, path: str = "/users/alice/inbox") -> list[dict]:
    """Activities the remote server received at ``path``, signed."""
    found = [r for r in remote.sink.received if r.path == path]
    assert all("Signature" in r.headers for r in found)
    return [json.loads(r.body) for r in found]


@pytest.fixture
def alice(remote: Remote, account: Account) -> Account:
    return fetch_actor(remote.uri).account


@pytest.fixture
def alice_post(remote: Remote, alice: Account) -> Post:
    content = ReceivedContent(
        uri=f"{remote.uri}/statuses/1", content_html="<p>Bonjour</p>", text="Bonjour"
    )
    post = record_received_post(alice, content)
    assert post is not None
    return post


def test_a_like_and_its_undo_reach_the_author(
    remote: Remote, account: Account, alice_post: Post
) -> None:
    reaction = interactions.react(account, alice_post, Reaction.Kind.FAVOURITE)
    assert reaction is not None
    drain()
    [like] = delivered(remote)
    reaction.refresh_from_db()
    assert like["type"] == "Like" and like["id"] == reaction.uri == f"{VILLE}#likes/{reaction.pk}"
    assert like["actor"] == VILLE and like["object"] == alice_post.uri
    assert interactions.remove_reaction(account, post=alice_post, kind=Reaction.Kind.FAVOURITE)
    drain()
    undo = delivered(remote)[-1]
    assert undo["type"] == "Undo" and undo["id"] == f"{like['id']}/undo"
    assert undo["object"] == {key: like[key] for key in ("id", "type", "actor", "object")}


def test_an_undo_queued_before_its_like_went_out_names_the_same_id(
    remote: Remote, account: Account, alice_post: Post
) -> None:
    reaction = interactions.react(account, alice_post, Reaction.Kind.FAVOURITE)
    interactions.remove_reaction(account, post=alice_post, kind=Reaction.Kind.FAVOURITE)
    drain()
    # The Like itself is not sent once the reaction is gone; its Undo names its id.
    [undo] = delivered(remote)
    assert undo["object"]["id"] == f"{VILLE}#likes/{reaction.pk}"


def test_a_boost_goes_to_the_author_and_to_followers(
    remote: Remote, account: Account, alice_post: Post
) -> None:
    bob = make_remote(remote.sink, "bob")
    interactions.record_follow(fetch_actor(bob.uri).account, account, "", approved=True)
    reaction = interactions.react(account, alice_post, Reaction.Kind.BOOST)
    drain()
    [announce] = delivered(remote)
    assert announce["type"] == "Announce" and announce["object"] == alice_post.uri
    assert announce["id"] == f"{VILLE}#boosts/{reaction.pk}"
    assert announce["to"] == [PUBLIC] and announce["cc"] == [remote.uri, f"{VILLE}/followers"]
    assert delivered(remote, "/inbox") == [announce]  # bob's shared inbox


def test_a_block_and_its_undo_reach_the_blocked_account(
    remote: Remote, account: Account, alice: Account
) -> None:
    block = interactions.record_block(account, alice)
    drain()
    [sent] = delivered(remote)
    block.refresh_from_db()
    assert sent["type"] == "Block" and sent["id"] == block.uri == f"{VILLE}#blocks/{block.pk}"
    assert sent["actor"] == VILLE and sent["object"] == remote.uri
    assert interactions.remove_block(account, alice)
    drain()
    undo = delivered(remote)[-1]
    assert undo["type"] == "Undo" and undo["object"]["id"] == block.uri
    assert not Block.objects.exists()


def test_what_concerns_no_other_server_sends_nothing(
    remote: Remote, account: Account, alice: Account, publisher: Staff, function_account: Account
) -> None:
    post = publishing.publish_post(publisher, account, publishing.Content(text="Marché"))
    drain()
    before = OutboundActivity.objects.count()
    # A hosted account likes a hosted post; a remote account's like and block come in.
    interactions.react(function_account, post, Reaction.Kind.FAVOURITE)
    interactions.react(alice, post, Reaction.Kind.FAVOURITE, "https://x.example/likes/1")
    interactions.record_block(alice, account, "https://x.example/blocks/1")
    drain()
    assert OutboundActivity.objects.count() == before
    assert not remote.sink.received
