"""What the endpoints share: the caller of a request, ids read from paths, lists of statuses."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from parvis.api.auth import Caller
from parvis.api.entities import Renderer
from parvis.api.errors import not_found
from parvis.api.pagination import Page, link_header, paginate, window
from parvis.api.visibility import visible
from parvis.identity.models import Account
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


def status_page(
    request: HttpRequest, response: HttpResponse, posts: QuerySet[Post], page: Page
) -> list[dict[str, Any]]:
    """A page of ``posts`` as Status entities, with its Link header."""
    rows = paginate(Renderer.prepare(posts), window(page))
    link_header(request, response, rows)
    return Renderer(request, caller(request)).statuses(rows)
