"""Home timelines, written as things happen: each hosted account's feed of the posts and
boosts of the accounts it follows, and its own.

A post or a boost is written into the feeds of its author's hosted followers when it is
created (one insert per follower, in the creating transaction); following an account
copies its latest posts and boosts in. Reading a page is then a walk down one index
(:func:`entries`), where building it from the follows meant reading every post of every
followed account and sorting them. Mastodon keeps the same feeds, in Redis.

Rows may outlive what put them there (an unfollow, a deletion, a suspension):
:func:`entries` applies the visibility rules when it reads, so such a row is never shown,
and :func:`forget` removes what an unfollow leaves at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from parvis.identity.models import Account
from parvis.interactions.models import Block, Follow, HomeEntry, Reaction
from parvis.publishing.models import Post, Visibility

# How many of its latest posts, and of its latest boosts, an account brings into the
# home of a new follower (Mastodon brings in about a hundred statuses; older ones stay
# on the account's profile).
BACKFILL = 400
# Visibilities a follower's home shows; the author's own home shows all of its posts.
FOR_FOLLOWERS = (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS)
# Only public and unlisted posts are ever boosted.
BOOSTABLE = (Visibility.PUBLIC, Visibility.UNLISTED)


def _hosted_followers(account: Account) -> QuerySet[Follow]:
    return Follow.objects.filter(
        target=account, state=Follow.State.ACCEPTED, follower__domain__isnull=False
    )


def _write(rows: Iterable[HomeEntry]) -> None:
    # A repeated delivery (the same post again, a re-follow) finds its row there.
    HomeEntry.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def deliver_post(post: Post) -> None:
    """Put a new post into its author's home (a hosted author) and its hosted followers'."""
    if post.deleted_at is not None:
        return
    owners: list[int] = []
    if post.account.is_local:
        owners.append(post.account_id)
    if post.visibility in FOR_FOLLOWERS:
        owners += _hosted_followers(post.account).values_list("follower", flat=True)
    _write(
        HomeEntry(owner_id=owner, position=post.pk, post=post, via_id=post.account_id)
        for owner in owners
    )


def deliver_boost(boost: Reaction) -> None:
    """Put a new boost into its booster's home (a hosted booster) and its hosted followers'."""
    owners: list[int] = []
    if boost.account.is_local:
        owners.append(boost.account_id)
    owners += _hosted_followers(boost.account).values_list("follower", flat=True)
    _write(
        HomeEntry(
            owner_id=owner,
            position=boost.timeline_id,
            post_id=boost.post_id,
            boost=boost,
            via_id=boost.account_id,
        )
        for owner in owners
    )


def fill_from(owner: Account, account: Account) -> None:
    """Bring ``account``'s latest posts and boosts into ``owner``'s home (it now follows it)."""
    if not owner.is_local:
        return
    posts = Post.objects.filter(
        account=account, deleted_at__isnull=True, visibility__in=FOR_FOLLOWERS
    ).values_list("pk", flat=True)[:BACKFILL]
    boosts = Reaction.objects.filter(account=account, kind=Reaction.Kind.BOOST).order_by(
        "-timeline_id"
    )[:BACKFILL]
    _write(
        [HomeEntry(owner=owner, position=pk, post_id=pk, via=account) for pk in posts]
        + [
            HomeEntry(owner=owner, position=b.timeline_id, post_id=b.post_id, boost=b, via=account)
            for b in boosts.only("pk", "timeline_id", "post_id")
        ]
    )


def forget(owner: Account, account: Account) -> None:
    """Take what ``account`` brought out of ``owner``'s home (it no longer follows it)."""
    if owner.pk != account.pk:
        HomeEntry.objects.filter(owner=owner, via=account).delete()


def entries(owner: Account) -> QuerySet[HomeEntry]:
    """The rows of ``owner``'s home it may see now, unordered.

    The rules are those Mastodon applies: posts of the account itself (all of them) and
    of the accounts it follows (not direct ones); their boosts of public and unlisted
    posts, but not others' boosts of the account's own posts, nor boosts of an author
    that blocks it; nothing of a suspended author or booster, nor of a deleted post.
    What the account chose not to see (mutes, blocks, hidden servers, exclusive lists)
    is the reader's to apply.
    """
    followed = Follow.objects.filter(follower=owner, state=Follow.State.ACCEPTED).values("target")
    blockers = Block.objects.filter(target=owner).values("account")
    shown = (
        Q(boost__isnull=True, via=owner)
        | Q(boost__isnull=True, post__visibility__in=FOR_FOLLOWERS)
        | (
            Q(boost__isnull=False, post__visibility__in=BOOSTABLE)
            & ~(Q(post__account=owner) & ~Q(via=owner))
            & ~Q(post__account__in=blockers)
        )
    )
    return HomeEntry.objects.filter(
        Q(via=owner) | Q(via__in=followed),
        shown,
        owner=owner,
        post__deleted_at__isnull=True,
        post__account__suspended_at__isnull=True,
        via__suspended_at__isnull=True,
    )
