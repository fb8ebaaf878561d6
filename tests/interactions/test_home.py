"""Home feeds: written when posts, boosts and follows happen, read with the visibility rules."""

from __future__ import annotations

import secrets
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone

from parvis.identity.models import Account, AccountKind, Staff
from parvis.interactions import home
from parvis.interactions import services as interactions
from parvis.interactions.models import HomeEntry, Reaction
from parvis.publishing.models import Post, Visibility
from parvis.publishing.received import ReceivedContent, record_received_post
from parvis.publishing.services import Content, delete_post, publish_post


def remote(name: str) -> Account:
    return Account.objects.create(
        handle=name,
        uri=f"https://remote.example/users/{name}",
        remote_host="remote.example",
        kind=AccountKind.PERSON,
    )


def received(author: Account, text: str, **extra: object) -> Post:
    post = record_received_post(
        author,
        ReceivedContent(
            uri=f"{author.uri}/statuses/{secrets.token_hex(4)}",
            content_html=f"<p>{text}</p>",
            text=text,
            **extra,  # type: ignore[arg-type]
        ),
    )
    assert post is not None
    return post


def shown(owner: Account) -> list[int]:
    """The positions ``owner`` may see, newest first."""
    return [row.position for row in home.page(owner, limit=1000)]


def stored(owner: Account) -> set[int]:
    return set(HomeEntry.objects.filter(owner=owner).values_list("position", flat=True))


def test_a_post_reaches_its_author_and_hosted_followers_only(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    interactions.record_follow(function_account, account, "", approved=True)
    interactions.record_follow(alice, account, "https://remote.example/follows/1", approved=True)
    post = publish_post(publisher, account, Content("Bonjour"))
    assert shown(account) == [post.pk]
    assert shown(function_account) == [post.pk]
    # Another server's account has no home here: its server gets the post.
    assert not HomeEntry.objects.filter(owner=alice).exists()


def test_a_followers_only_post_reaches_followers(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    interactions.record_follow(function_account, account, "", approved=True)
    post = publish_post(publisher, account, Content("Abonnés", visibility=Visibility.FOLLOWERS))
    assert shown(account) == [post.pk]
    assert shown(function_account) == [post.pk]


def test_following_brings_the_latest_posts_and_boosts_in(
    publisher: Staff, account: Account, function_account: Account, monkeypatch
) -> None:
    monkeypatch.setattr(home, "BACKFILL", 2)
    alice = remote("alice")
    said = received(alice, "Alice parle")
    posts = [publish_post(publisher, function_account, Content(f"N° {n}")) for n in range(3)]
    boost = interactions.react(function_account, said, Reaction.Kind.BOOST)
    assert boost is not None
    interactions.record_follow(account, function_account, "", approved=True)
    # The two latest posts and the boost; the oldest post stays on the profile.
    assert shown(account) == [boost.timeline_id, posts[2].pk, posts[1].pk]
    # Following again (a repeated Follow) writes nothing twice.
    interactions.record_follow(account, function_account, "", approved=True)
    assert HomeEntry.objects.filter(owner=account).count() == 3


def test_an_accepted_follow_request_brings_posts_in(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    function_account.locked = True
    function_account.save()
    post = publish_post(publisher, function_account, Content("Réservé"))
    follow = interactions.record_follow(account, function_account, "", approved=False)
    assert shown(account) == []
    interactions.approve_follow_request(follow)
    assert shown(account) == [post.pk]


def test_a_remote_post_reaches_the_hosted_followers_of_its_author(
    account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    follow = interactions.request_follow(account, alice)
    interactions.accept_follow(follow)
    post = received(alice, "Bonjour de loin")
    private = received(alice, "Abonnés", visibility=Visibility.FOLLOWERS)
    direct = received(alice, "À toi", visibility=Visibility.DIRECT, mentions=[account])
    assert shown(account) == [private.pk, post.pk]
    assert direct.pk not in stored(account)
    assert stored(function_account) == set()


def test_unfollowing_and_blocking_take_the_entries_out(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    interactions.record_follow(account, function_account, "", approved=True)
    interactions.record_follow(function_account, account, "", approved=True)
    mayor = publish_post(publisher, function_account, Content("Du maire"))
    own = publish_post(publisher, account, Content("De la ville"))
    interactions.unfollow(account, function_account)
    assert stored(account) == {own.pk}
    interactions.record_block(account, function_account)
    # Both ways: the blocked account no longer follows, and its home loses the blocker.
    assert stored(function_account) == {mayor.pk}


def test_boosts_reach_followers_and_go_with_their_undo(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    said = received(alice, "Alice parle")
    interactions.record_follow(account, function_account, "", approved=True)
    boost = interactions.react(function_account, said, Reaction.Kind.BOOST)
    assert boost is not None
    assert shown(account) == [boost.timeline_id]
    assert shown(function_account) == [boost.timeline_id]
    # A like is not a timeline entry.
    interactions.react(function_account, said, Reaction.Kind.FAVOURITE)
    assert shown(account) == [boost.timeline_id]
    interactions.remove_reaction(function_account, post=said, kind=Reaction.Kind.BOOST)
    assert stored(account) == set()


def test_reading_applies_the_rules_to_rows_left_behind(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    interactions.record_follow(account, function_account, "", approved=True)
    own = publish_post(publisher, account, Content("De la ville"))
    gone = publish_post(publisher, function_account, Content("Effacé"))
    kept = publish_post(publisher, function_account, Content("Gardé"))
    delete_post(publisher, gone)
    assert shown(account) == [kept.pk, own.pk]
    # Others' boosts of the account's own posts stay out of its home, as on Mastodon.
    boost = interactions.react(function_account, own, Reaction.Kind.BOOST)
    assert boost is not None
    assert boost.timeline_id in stored(account)
    assert shown(account) == [kept.pk, own.pk]
    # A row whose follow ended some other way (a deleted actor) is not shown either.
    function_account.following.all().delete()
    account.following.all().delete()
    assert shown(account) == [own.pk]
    # Nor what a suspended account wrote.
    account.suspended_at = timezone.now()
    account.save()
    assert shown(account) == []


def test_the_boost_of_an_author_that_blocks_the_reader_is_not_shown(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    said = received(alice, "Alice parle")
    interactions.record_follow(account, function_account, "", approved=True)
    boost = interactions.react(function_account, said, Reaction.Kind.BOOST)
    assert boost is not None
    interactions.record_block(alice, account, "https://remote.example/blocks/1")
    assert boost.timeline_id in stored(account)
    assert shown(account) == []


@pytest.mark.django_db
def test_the_migration_fills_homes_as_following_would(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    alice = remote("alice")
    said = received(alice, "Alice parle")
    interactions.record_follow(account, function_account, "", approved=True)
    publish_post(publisher, function_account, Content("Du maire"))
    publish_post(publisher, account, Content("Abonnés", visibility=Visibility.FOLLOWERS))
    interactions.react(function_account, said, Reaction.Kind.BOOST)
    before = set(HomeEntry.objects.values_list("owner", "position", "post", "boost", "via"))
    HomeEntry.objects.all().delete()
    migration = import_module("parvis.interactions.migrations.0005_home_entries")
    migration.fill_homes(apps, None)
    after = set(HomeEntry.objects.values_list("owner", "position", "post", "boost", "via"))
    assert after == before


def test_pages_and_what_the_reader_chose_not_to_see(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    alice, bob = remote("alice"), remote("bob")
    for followed in (function_account, alice, bob):
        interactions.record_follow(account, followed, "", approved=True)
    posts = [publish_post(publisher, function_account, Content(f"N° {n}")) for n in range(4)]
    said = received(alice, "Alice parle")
    boost = interactions.react(bob, said, Reaction.Kind.BOOST)
    assert boost is not None
    everything = [boost.timeline_id, said.pk, *[p.pk for p in reversed(posts)]]
    assert shown(account) == everything
    older = home.page(account, limit=2, max_id=everything[1])
    assert [row.position for row in older] == everything[2:4]
    newer = home.page(account, limit=2, min_id=everything[4])
    assert [row.position for row in newer] == everything[2:4]
    since = home.page(account, limit=10, since_id=everything[2])
    assert [row.position for row in since] == everything[:2]
    assert [(r.post_id, r.boost_id) for r in home.page(account, limit=1)] == [(said.pk, boost.pk)]
    # Left out by the caller (exclusive lists), muted for a while, or a hidden server:
    # as author or as booster.
    assert shown(account)[:2] == everything[:2]
    rows = home.page(account, limit=10, excluded=[function_account.pk, account.pk])
    assert [row.position for row in rows] == everything[:2]
    interactions.mute(account, bob, duration=timedelta(hours=1))
    assert shown(account) == everything[1:]
    interactions.unmute(account, bob)
    interactions.block_domain(account, "remote.example")
    assert shown(account) == everything[2:]
