"""What the endpoints share: the caller of a request, ids read from paths, lists of statuses."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from parvis.api.auth import Caller
from parvis.api.entities import Renderer
from parvis.api.errors import not_found
from parvis.api.pagination import Page, link_between, link_header, paginate, window
from parvis.api.visibility import visible
from parvis.identity.models import Account
from parvis.interactions.models import Reaction
from parvis.publishing.models import Post

_MAX_ID = 2**63 - 1


def caller(request: HttpRequest) -> Caller:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def path_id(value: str) -> int:
    """An id from a path; anything that is not one is not found, as with Mastodon."""
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_ID:
        raise not_found()
    return int(value)


def account_or_404(value: str) -> Account:
    account = (
        Account.objects.select_related("domain", "institution")
        .filter(pk=path_id(value), suspended_at__isnull=True)
        .first()
    )
    if account is None:
        raise not_found()
    return account


def status_or_404(request: HttpRequest, value: str) -> Post:
    post = Renderer.prepare(
        visible(Post.objects.filter(pk=path_id(value)), caller(request))
    ).first()
    if post is None:
        raise not_found()
    return post


def timeline_page(
    request: HttpRequest,
    response: HttpResponse,
    posts: QuerySet[Post],
    boosts: QuerySet[Reaction],
    page: Page,
) -> list[dict[str, Any]]:
    """A page of posts and boosts together, ordered by their ids, with its Link header."""
    where = window(page)
    entries: list[tuple[int, Post | Reaction]] = [
        (p.pk, p) for p in paginate(Renderer.prepare(posts), where)
    ]
    entries += [
        (b.timeline_id, b)
        for b in paginate(
            boosts.select_related("account__domain", "account__institution"),
            where,
            "timeline_id",
        )
    ]
    entries.sort(key=lambda entry: entry[0], reverse=True)
    # Each kind gave a full page: keep the page's worth nearest to where it starts.
    entries = entries[-where.limit :] if where.min_id is not None else entries[: where.limit]
    if entries:
        link_between(request, response, entries[0][0], entries[-1][0])
    return Renderer(request, caller(request)).timeline([entry for _key, entry in entries])


def boosts_of_visible(caller_: Caller) -> QuerySet[Reaction]:
    """Boosts of statuses ``caller_`` may see, by accounts not suspended."""
    return Reaction.objects.filter(
        kind=Reaction.Kind.BOOST,
        account__suspended_at__isnull=True,
        post__in=visible(Post.objects.all(), caller_).values("pk"),
    )


def status_page(
    request: HttpRequest, response: HttpResponse, posts: QuerySet[Post], page: Page
) -> list[dict[str, Any]]:
    """A page of ``posts`` as Status entities, with its Link header."""
    rows = paginate(Renderer.prepare(posts), window(page))
    link_header(request, response, rows)
    return Renderer(request, caller(request)).statuses(rows)
