"""``/api/v1/timelines``: the caller's home, and the public timeline of the server.

The caller's filters apply (:func:`parvis.api.endpoints.filters.filter_results`): those of
the ``home`` context to home, those of ``public`` to the public and tag timelines when the
token acts as an account. Members of the account's exclusive lists are left out of home.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from parvis.api import models, schemas
from parvis.api.auth import ANYONE, OAuth
from parvis.api.endpoints.common import caller, render_timeline, status_page
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import Renderer
from parvis.api.pagination import Page, window
from parvis.api.visibility import unwanted
from parvis.interactions import home as home_feed
from parvis.interactions.models import Reaction
from parvis.publishing.models import Post, Visibility

router = Router(tags=["timelines"])
ERRORS = {400: schemas.Error, 401: schemas.Error, 403: schemas.Error, 422: schemas.Error}


@router.get(
    "/v1/timelines/home",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:statuses"),
)
def home(request: HttpRequest, response: HttpResponse, page: Query[Page]) -> list[dict[str, Any]]:
    """The statuses and boosts of the accounts the caller's account follows, and its own,
    read from the account's home feed (:mod:`parvis.interactions.home`)."""
    call = caller(request)
    me = call.account
    assert me is not None  # OAuth() lets only tokens acting as an account through
    where = window(page)
    # Members of exclusive lists are read in those lists only (the account's own
    # statuses stay, as Mastodon always delivers them to their author's home).
    exclusive = models.ListMember.objects.filter(list__account=me, list__exclusive=True)
    page_rows = home_feed.page(
        me,
        limit=where.limit,
        max_id=where.max_id,
        since_id=where.since_id,
        min_id=where.min_id,
        excluded=list(exclusive.values_list("account", flat=True)),
    )
    # The boosted posts with the others: a boost's row names the post it boosts.
    posts = Renderer.joined(Post.objects.filter(pk__in=[r.post_id for r in page_rows])).in_bulk()
    boosts = (
        Reaction.objects.filter(pk__in=[r.boost_id for r in page_rows if r.boost_id is not None])
        .select_related("account__domain", "account__institution")
        .in_bulk()
    )
    for boost in boosts.values():
        if boost.post_id in posts:
            boost.post = posts[boost.post_id]
    entries: list[tuple[int, Post | Reaction]] = []
    for row in page_rows:
        entry = boosts.get(row.boost_id) if row.boost_id is not None else posts.get(row.post_id)
        if entry is not None:  # else it went away since the page was read
            entries.append((row.position, entry))
    statuses = render_timeline(request, response, entries)
    return filter_results(me, statuses, context=models.Filter.Context.HOME)


def _filtered(request: HttpRequest, statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``statuses`` with the filters of the ``public`` context applied; an anonymous
    reader has none."""
    me = caller(request).account
    if me is None:
        return statuses
    return filter_results(me, statuses, context=models.Filter.Context.PUBLIC)


class PublicFilters(Page):
    local: bool = False
    remote: bool = False
    only_media: bool = False


@router.get(
    "/v1/timelines/public",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def public(
    request: HttpRequest, response: HttpResponse, filters: Query[PublicFilters]
) -> list[dict[str, Any]]:
    """Public statuses known to the server: its own (``local``), others' (``remote``), or both."""
    posts = Post.objects.filter(
        visibility=Visibility.PUBLIC, deleted_at__isnull=True, account__suspended_at__isnull=True
    )
    if filters.local:
        posts = posts.filter(uri="")
    elif filters.remote:
        posts = posts.exclude(uri="")
    if filters.only_media:
        posts = posts.filter(media__isnull=False).distinct()
    return _filtered(
        request, status_page(request, response, unwanted(posts, caller(request)), filters)
    )


@router.get(
    "/v1/timelines/tag/{hashtag}",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def tag(
    request: HttpRequest, response: HttpResponse, hashtag: str, filters: Query[PublicFilters]
) -> list[dict[str, Any]]:
    """Public statuses with a hashtag."""
    posts = Post.objects.filter(
        visibility=Visibility.PUBLIC,
        deleted_at__isnull=True,
        account__suspended_at__isnull=True,
        hashtags__name__iexact=hashtag.lstrip("#")[:100],
    )
    if filters.local:
        posts = posts.filter(uri="")
    elif filters.remote:
        posts = posts.exclude(uri="")
    return _filtered(
        request, status_page(request, response, unwanted(posts, caller(request)), filters)
    )
