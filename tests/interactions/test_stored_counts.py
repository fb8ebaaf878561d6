"""Stored counts (PostStats, AccountStats) kept by triggers: after every kind of change,
they equal what counting the rows gives."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Count, Max

from parvis.identity.models import Account, AccountKind, AccountStats, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Follow, Reaction
from parvis.publishing.models import Post, PostStats
from parvis.publishing.received import delete_received_post, erase_account_posts
from parvis.publishing.services import Content, delete_post, edit_post, publish_post
from tests.interactions.test_home import received, remote


def counted() -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, int, int, Any]]]:
    """The counts as grouped queries over the rows give them (zeros left out)."""
    posts: dict[int, list[int]] = {}
    for parent, n in (
        Post.objects.live()
        .filter(in_reply_to__isnull=False)
        .values_list("in_reply_to")
        .annotate(n=Count("id"))
    ):
        posts.setdefault(parent, [0, 0, 0])[0] = n
    for post, kind, n in Reaction.objects.values_list("post", "kind").annotate(n=Count("id")):
        posts.setdefault(post, [0, 0, 0])[1 if kind == Reaction.Kind.BOOST else 2] = n
    accounts: dict[int, list[Any]] = {}
    accepted = Follow.objects.filter(state=Follow.State.ACCEPTED)
    for target, n in accepted.values_list("target").annotate(n=Count("id")):
        accounts.setdefault(target, [0, 0, 0, None])[0] = n
    for follower, n in accepted.values_list("follower").annotate(n=Count("id")):
        accounts.setdefault(follower, [0, 0, 0, None])[1] = n
    for account, n, last in (
        Post.objects.live().values_list("account").annotate(n=Count("id"), last=Max("published_at"))
    ):
        accounts.setdefault(account, [0, 0, 0, None])[2:] = [n, last]
    return (
        {pk: tuple(v) for pk, v in posts.items()},  # type: ignore[misc]
        {pk: tuple(v) for pk, v in accounts.items()},  # type: ignore[misc]
    )


def kept() -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, int, int, Any]]]:
    """The stored counts, rows of zeros left out."""
    posts = {
        pk: counts
        for pk, *counts in PostStats.objects.values_list(
            "post", "replies_count", "reblogs_count", "favourites_count"
        )
        if any(counts)
    }
    accounts = {
        pk: counts
        for pk, *counts in AccountStats.objects.values_list(
            "account", "followers_count", "following_count", "statuses_count", "last_status_at"
        )
        if any(counts)
    }
    return (
        {pk: tuple(v) for pk, v in posts.items()},
        {pk: tuple(v) for pk, v in accounts.items()},
    )


def check() -> None:
    assert kept() == counted()


def test_posts_replies_and_deletions_are_counted(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    first = publish_post(publisher, account, Content("Premier"))
    second = publish_post(publisher, account, Content("Second"))
    reply = publish_post(publisher, function_account, Content("Réponse", in_reply_to=first))
    alice = remote("alice")
    theirs = received(alice, "Une réponse d'ailleurs", in_reply_to=first)
    check()
    assert first.stats.replies_count == 2
    stats = AccountStats.objects.get(account=account)
    assert (stats.statuses_count, stats.last_status_at) == (2, second.published_at)

    # Saving a post read before a change writes no stale count back.
    stale = Post.objects.get(pk=first.pk)
    publish_post(publisher, function_account, Content("Encore", in_reply_to=first))
    edit_post(publisher, stale, Content("Premier, corrigé"))
    check()

    delete_post(publisher, second)
    stats.refresh_from_db()
    assert (stats.statuses_count, stats.last_status_at) == (1, first.published_at)
    delete_post(publisher, reply)
    assert delete_received_post(alice, theirs.uri)
    check()
    assert PostStats.objects.get(post=first).replies_count == 1


def test_reactions_are_counted_whatever_removes_them(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    post = publish_post(publisher, account, Content("Aimez-moi"))
    alice, bob = remote("alice"), remote("bob")
    interactions.react(alice, post, Reaction.Kind.FAVOURITE, "https://remote.example/likes/1")
    interactions.react(bob, post, Reaction.Kind.FAVOURITE, "https://remote.example/likes/2")
    interactions.react(bob, post, Reaction.Kind.BOOST, "https://remote.example/boosts/2")
    interactions.react(function_account, post, Reaction.Kind.BOOST)
    # The same reaction twice counts once.
    interactions.react(function_account, post, Reaction.Kind.BOOST)
    check()
    assert (post.stats.favourites_count, post.stats.reblogs_count) == (2, 2)
    interactions.remove_reaction(function_account, post=post, kind=Reaction.Kind.BOOST)
    check()
    # An account erased takes its reactions with it (a cascade, not a service).
    bob.delete()
    check()
    stats = PostStats.objects.get(post=post)
    assert (stats.favourites_count, stats.reblogs_count) == (1, 0)
    # A post erased takes its counts with it, and its parent's count goes down.
    reply = received(alice, "Réponse", in_reply_to=post)
    check()
    erase_account_posts(alice)
    check()
    assert not PostStats.objects.filter(post=reply).exists()


def test_follows_count_once_accepted(account: Account, function_account: Account) -> None:
    alice, bob = remote("alice"), remote("bob")
    account.locked = True
    account.save()
    pending = interactions.record_follow(
        alice, account, "https://remote.example/f/1", approved=False
    )
    interactions.record_follow(bob, account, "https://remote.example/f/2", approved=True)
    interactions.record_follow(account, function_account, "", approved=True)
    check()
    assert AccountStats.objects.get(account=account).followers_count == 1
    interactions.approve_follow_request(pending)
    check()
    # Saving an account read before a follow changes nothing of its counts.
    account.display_name = "Nouveau nom"
    account.save()
    assert interactions.unfollow(alice, account)
    interactions.record_block(account, bob)
    check()
    stats = AccountStats.objects.get(account=account)
    assert (stats.followers_count, stats.following_count) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_what_was_there(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    """The counts of rows written before the triggers existed are filled in."""
    post = publish_post(publisher, account, Content("Avant"))
    publish_post(publisher, function_account, Content("Réponse", in_reply_to=post))
    interactions.record_follow(function_account, account, "", approved=True)
    interactions.react(function_account, post, Reaction.Kind.FAVOURITE)
    fill = [
        *import_module("parvis.publishing.migrations.0008_post_stats").FILL,
        *import_module("parvis.interactions.migrations.0007_stored_counts").FILL,
    ]
    PostStats.objects.all().delete()
    AccountStats.objects.all().delete()
    with connection.cursor() as cursor:
        for statement in fill:
            cursor.execute(statement)
    check()
    assert apps.get_model("publishing", "PostStats").objects.get(post=post).favourites_count == 1


def test_a_remote_account_without_activity_has_no_row(db: None) -> None:
    quiet = Account.objects.create(
        handle="quiet", uri="https://remote.example/users/quiet", kind=AccountKind.PERSON
    )
    assert not AccountStats.objects.filter(account=quiet).exists()
    check()
