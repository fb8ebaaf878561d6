"""The small discovery endpoints: custom emojis, announcements, trends, featured tags,
endorsements, familiar followers, and the instance's peers and activity.

Parvis has no custom emojis, announcements, trends, featured tags nor endorsements, and
answers the empty lists Mastodon allows. ``/api/v1/accounts/familiar_followers`` names,
for each account asked about, the accounts the caller follows that follow it.
``/api/v1/instance/peers`` lists the servers of the accounts Parvis knows.

Known differences from Mastodon:

* ``/api/v1/instance/activity`` answers an empty list.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from parvis.api import schemas
from parvis.api.auth import ANYONE, OAuth
from parvis.api.endpoints.common import (
    TagHistoryDay,
    TagWithHistory,
    account_or_404,
    caller,
    followed_by,
)
from parvis.api.entities import Renderer
from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.interactions.models import Follow

router = Router(tags=["discovery"])
ERRORS = schemas.ERRORS

# familiar_followers reads at most this many accounts asked about, and names at most a
# page of accounts (its largest, 80) following each.
FAMILIAR_ACCOUNTS = 40
FAMILIAR_FOLLOWERS = 80


# --- schemas ---------------------------------------------------------------------------


class FamiliarFollowers(Schema):
    id: str
    accounts: list[schemas.Account]


class FeaturedTag(Schema):
    id: str
    name: str
    url: str
    statuses_count: int
    last_status_at: str | None


class AnnouncementMention(Schema):
    id: str
    username: str
    url: str
    acct: str


class AnnouncementStatus(Schema):
    id: str
    url: str


class AnnouncementReaction(Schema):
    name: str
    count: int
    me: bool | None = None
    url: str | None = None
    static_url: str | None = None


class Announcement(Schema):
    id: str
    content: str
    starts_at: str | None
    ends_at: str | None
    published: bool
    all_day: bool
    published_at: str
    updated_at: str
    read: bool | None = None
    mentions: list[AnnouncementMention]
    statuses: list[AnnouncementStatus]
    tags: list[schemas.Tag]
    emojis: list[schemas.CustomEmoji]
    reactions: list[AnnouncementReaction]


class TrendsLink(Schema):
    """A PreviewCard with its usage history, as ``/api/v1/trends/links`` lists them."""

    url: str
    title: str
    description: str
    type: str
    author_name: str
    author_url: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    image: str | None
    embed_url: str
    blurhash: str | None
    history: list[TagHistoryDay]


class InstanceActivity(Schema):
    week: str
    statuses: str
    logins: str
    registrations: str


# --- what Parvis does not have: the empty lists Mastodon allows ---------------------------


@router.get("/v1/custom_emojis", response=list[schemas.CustomEmoji], auth=None)
def custom_emojis(request: HttpRequest) -> list[dict[str, Any]]:
    """Parvis has no custom emojis."""
    return []


@router.get("/v1/announcements", response={200: list[Announcement], **ERRORS}, auth=OAuth("read"))
def announcements(request: HttpRequest) -> list[dict[str, Any]]:
    """Parvis publishes no announcements to the accounts it hosts."""
    return []


@router.get("/v1/trends", response=list[TagWithHistory], auth=None)
def trends_old(request: HttpRequest) -> list[dict[str, Any]]:
    """Mastodon's former name of ``/api/v1/trends/tags``."""
    return []


@router.get("/v1/trends/tags", response=list[TagWithHistory], auth=None)
def trends_tags(request: HttpRequest) -> list[dict[str, Any]]:
    """Parvis ranks nothing: no trending hashtags."""
    return []


@router.get("/v1/trends/statuses", response=list[schemas.Status], auth=None)
def trends_statuses(request: HttpRequest) -> list[dict[str, Any]]:
    """Parvis ranks nothing: no trending statuses."""
    return []


@router.get("/v1/trends/links", response=list[TrendsLink], auth=None)
def trends_links(request: HttpRequest) -> list[dict[str, Any]]:
    """Parvis ranks nothing: no trending links."""
    return []


@router.get(
    "/v1/accounts/familiar_followers",
    response={200: list[FamiliarFollowers], **ERRORS},
    auth=OAuth("read:follows"),
)
def familiar_followers(request: HttpRequest, id: Query[list[str]]) -> list[dict[str, Any]]:
    """For each account named, the accounts the caller's account follows that follow it."""
    call = caller(request)
    me = call.account
    assert me is not None
    wanted: list[int] = []
    for value in id[:FAMILIAR_ACCOUNTS]:
        if value.isascii() and value.isdigit() and len(value) < 19 and int(value) not in wanted:
            wanted.append(int(value))
    followed = followed_by(me).values("target")
    renderer = Renderer(request, call)
    answer = []
    for pk in wanted:
        # At most a page of them: a client shows a few names and a count.
        follows = (
            Follow.objects.filter(
                target_id=pk,
                state=Follow.State.ACCEPTED,
                follower__in=followed,
                follower__suspended_at__isnull=True,
            )
            .select_related("follower__domain", "follower__institution")
            .order_by("pk")[:FAMILIAR_FOLLOWERS]
        )
        accounts = [follow.follower for follow in follows]
        renderer.load_accounts(accounts)
        answer.append({"id": str(pk), "accounts": [renderer.account(a) for a in accounts]})
    return answer


@router.get(
    "/v1/accounts/{account_id}/featured_tags",
    response={200: list[FeaturedTag], **ERRORS},
    auth=OAuth(optional=True),
    openapi_extra=ANYONE,
)
def account_featured_tags(request: HttpRequest, account_id: str) -> list[dict[str, Any]]:
    """The hashtags an account features: none, Parvis has no featured hashtags."""
    account_or_404(account_id)
    return []


@router.get(
    "/v1/featured_tags", response={200: list[FeaturedTag], **ERRORS}, auth=OAuth("read:accounts")
)
def featured_tags(request: HttpRequest) -> list[dict[str, Any]]:
    """The hashtags the account features: none, Parvis has no featured hashtags."""
    return []


@router.get(
    "/v1/endorsements",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:accounts"),
)
def endorsements(request: HttpRequest) -> list[dict[str, Any]]:
    """The accounts the account features on its profile: none, Parvis has no endorsements."""
    return []


@router.get("/v1/instance/peers", response=list[str], auth=None)
def peers(request: HttpRequest) -> list[str]:
    """The servers of the accounts Parvis knows, but those it blocks."""
    domains = RemoteActor.objects.order_by("domain").values_list("domain", flat=True).distinct()
    return [domain for domain in domains if not BlockedDomain.covers(domain)]


@router.get("/v1/instance/activity", response=list[InstanceActivity], auth=None)
def activity(request: HttpRequest) -> list[dict[str, Any]]:
    """Weekly activity: Parvis does not publish it."""
    return []
