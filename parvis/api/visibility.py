"""Which statuses a caller may see through the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from parvis.api.auth import Caller
from parvis.interactions.models import AccountDomainBlock, Block, Follow, Mute
from parvis.publishing.models import Post, Visibility


def visible(posts: QuerySet[Post], caller: Caller) -> QuerySet[Post]:
    """``posts`` limited to those ``caller`` may read: public and unlisted ones for anyone,
    followers-only ones for the author and accepted followers, direct ones for the author
    and the accounts mentioned; none of an author who blocks the caller."""
    posts = posts.filter(deleted_at__isnull=True, account__suspended_at__isnull=True)
    open_to_all = Q(visibility__in=(Visibility.PUBLIC, Visibility.UNLISTED))
    me = caller.account
    if me is None:
        return posts.filter(open_to_all)
    # An author who blocks the caller is not seen by them, as on Mastodon.
    posts = posts.exclude(account__in=Block.objects.filter(target=me).values("account"))
    followed = Follow.objects.filter(follower=me, state=Follow.State.ACCEPTED).values("target")
    # The mentions as a subquery: joined, they needed a DISTINCT over every row read
    # (13 ms a page of an account's statuses on PostgreSQL).
    mentioning_me = Post.mentions.through.objects.filter(account=me).values("post")
    return posts.filter(
        open_to_all
        | Q(account=me)
        | Q(visibility=Visibility.FOLLOWERS, account__in=followed)
        | Q(visibility=Visibility.DIRECT, pk__in=mentioning_me)
    )


def unwanted(posts: QuerySet[Post], caller: Caller, author: str = "account") -> QuerySet[Post]:
    """``posts`` (or rows whose ``author`` is an account) without what the caller's account
    chose not to see: accounts it muted or blocks, servers it hid."""
    me = caller.account
    if me is None:
        return posts
    return (
        posts.exclude(
            **{f"{author}__in": Mute.objects.active().filter(account=me).values("target")}
        )
        .exclude(**{f"{author}__in": Block.objects.filter(account=me).values("target")})
        .exclude(
            **{
                f"{author}__remote_host__in": AccountDomainBlock.objects.filter(account=me).values(
                    "domain"
                )
            }
        )
    )
