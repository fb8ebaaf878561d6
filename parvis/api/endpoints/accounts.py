"""``/api/v1/accounts``: the caller's own account, others by id or address, their statuses."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from parvis.api import models, schemas
from parvis.api.auth import ANYONE, OAuth
from parvis.api.endpoints.common import (
    account_or_404,
    boosts_of_visible,
    caller,
    status_page,
    timeline_page,
)
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import ACCOUNT_RELATED, Renderer
from parvis.api.errors import not_found
from parvis.api.pagination import Page, window
from parvis.api.visibility import visible
from parvis.identity.models import Account
from parvis.interactions.models import AccountDomainBlock, Block, Follow, Mute
from parvis.publishing.models import Post
from parvis.publishing.pins import pinned_posts

router = Router(tags=["accounts"])
ERRORS = {401: schemas.Error, 403: schemas.Error, 404: schemas.Error, 422: schemas.Error}


@router.get(
    "/v1/accounts/verify_credentials",
    response={200: schemas.Account, **ERRORS},
    auth=OAuth("read:accounts"),
)
def verify_credentials(request: HttpRequest) -> dict[str, Any]:
    """The account the token acts as, with its ``source``."""
    me = caller(request).account
    assert me is not None
    return Renderer(request, caller(request)).account(me, source=True)


@router.get(
    "/v1/accounts/lookup",
    response={200: schemas.Account, **ERRORS},
    auth=OAuth(optional=True),
    openapi_extra=ANYONE,
)
def lookup(request: HttpRequest, acct: str) -> dict[str, Any]:
    """An account known here, by ``handle`` or ``handle@domain``."""
    handle, _at, domain = acct.strip().lstrip("@").partition("@")
    accounts = Account.objects.select_related(*ACCOUNT_RELATED).filter(
        handle__iexact=handle, suspended_at__isnull=True
    )
    if domain:
        accounts = accounts.filter(Q(domain__name__iexact=domain) | Q(remote_host__iexact=domain))
    else:
        accounts = accounts.filter(domain__isnull=False)
    account = accounts.first()
    if account is None:
        raise not_found()
    return Renderer(request, caller(request)).account(account)


@router.get(
    "/v1/accounts/relationships",
    response={200: list[schemas.Relationship], **ERRORS},
    auth=OAuth("read:follows"),
)
def relationships(request: HttpRequest, id: Query[list[str]]) -> list[dict[str, Any]]:
    """How the caller's account relates to each of the accounts named."""
    me = caller(request).account
    assert me is not None
    wanted = [int(i) for i in id[:40] if i.isascii() and i.isdigit() and len(i) < 19]
    return relationships_of(me, wanted)


def relationship_with(me: Account, other: Account) -> dict[str, Any]:
    """The Relationship entity of ``me`` towards ``other`` (read after an act)."""
    return relationships_of(me, [other.pk])[0]


def relationships_of(me: Account, wanted: list[int]) -> list[dict[str, Any]]:
    """The Relationship entities of ``me`` towards the accounts ``wanted`` that exist, in
    their order, in one query per kind of relation."""
    hosts = dict(Account.objects.filter(pk__in=wanted).values_list("pk", "remote_host"))
    following = dict(
        Follow.objects.filter(follower=me, target__in=wanted).values_list("target", "state")
    )
    followers = dict(
        Follow.objects.filter(target=me, follower__in=wanted).values_list("follower", "state")
    )
    blocking = set(
        Block.objects.filter(account=me, target__in=wanted).values_list("target", flat=True)
    )
    blocked_by = set(
        Block.objects.filter(target=me, account__in=wanted).values_list("account", flat=True)
    )
    mutes = dict(
        Mute.objects.active()
        .filter(account=me, target__in=wanted)
        .values_list("target", "notifications")
    )
    hidden = set(AccountDomainBlock.objects.filter(account=me).values_list("domain", flat=True))
    entities = []
    for pk in dict.fromkeys(wanted):
        if pk not in hosts:
            continue
        state = following.get(pk)
        entities.append(
            {
                "id": str(pk),
                "following": state == Follow.State.ACCEPTED,
                "showing_reblogs": state == Follow.State.ACCEPTED,
                "notifying": False,
                "languages": None,
                "followed_by": followers.get(pk) == Follow.State.ACCEPTED,
                "blocking": pk in blocking,
                "blocked_by": pk in blocked_by,
                "muting": pk in mutes,
                "muting_notifications": mutes.get(pk, False),
                "requested": state == Follow.State.PENDING,
                "requested_by": followers.get(pk) == Follow.State.PENDING,
                "domain_blocking": bool(hosts[pk]) and hosts[pk] in hidden,
                "endorsed": False,
                "note": "",
            }
        )
    return entities


@router.get(
    "/v1/accounts/{account_id}",
    response={200: schemas.Account, **ERRORS},
    auth=OAuth(optional=True),
    openapi_extra=ANYONE,
)
def account(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """One account by id."""
    return Renderer(request, caller(request)).account(account_or_404(account_id))


class StatusFilters(Page):
    only_media: bool = False
    exclude_replies: bool = False
    exclude_reblogs: bool = False
    pinned: bool = False
    tagged: str | None = None


def _pinned(
    request: HttpRequest, author: Account, visible_posts: QuerySet[Post], filters: StatusFilters
) -> list[dict[str, Any]]:
    """The account's pinned statuses the caller may see, newest pin first, on one page:
    there are five at most (Mastodon pages them by pin, which no client needs for five)."""
    if filters.max_id or filters.min_id or filters.since_id:
        return []
    pinned = pinned_posts(author).filter(pk__in=visible_posts.values("pk"))
    rows = list(Renderer.joined(pinned)[: window(filters).limit])
    return Renderer(request, caller(request)).statuses(rows)


@router.get(
    "/v1/accounts/{account_id}/statuses",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def account_statuses(
    request: HttpRequest, response: HttpResponse, account_id: str, filters: Query[StatusFilters]
) -> list[dict[str, Any]]:
    """The statuses and boosts of an account the caller may see, newest first, with the
    caller's filters of the ``account`` context applied."""
    author = account_or_404(account_id)
    posts = visible(Post.objects.filter(account=author), caller(request))
    if filters.only_media:
        posts = posts.filter(media__isnull=False).distinct()
    if filters.exclude_replies:
        posts = posts.filter(in_reply_to__isnull=True, in_reply_to_uri="")
    if filters.tagged:
        posts = posts.filter(hashtags__name__iexact=filters.tagged.lstrip("#"))
    if filters.pinned:
        statuses = _pinned(request, author, posts, filters)
    elif filters.exclude_reblogs or filters.only_media or filters.tagged:
        statuses = status_page(request, response, posts, filters)
    else:
        boosts = boosts_of_visible(caller(request)).filter(account=author)
        statuses = timeline_page(request, response, posts, boosts, filters)
    me = caller(request).account
    if me is None:
        return statuses
    return filter_results(me, statuses, context=models.Filter.Context.ACCOUNT)
