"""What the endpoints share: the caller of a request, ids read from paths, lists of statuses,
refusals of what fails validation, the accounts one follows, the Tag entity of search and
trends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema

from parvis.api.auth import Caller
from parvis.api.entities import ACCOUNT_RELATED, Renderer
from parvis.api.errors import ApiError, not_found
from parvis.api.pagination import Page, link_between, link_header, paginate, window
from parvis.api.visibility import visible
from parvis.identity.models import Account
from parvis.interactions.models import Block, Follow, Reaction
from parvis.publishing.models import Post, Visibility

_MAX_ID = 2**63 - 1


class TagHistoryDay(Schema):
    day: str
    uses: str
    accounts: str


class TagWithHistory(Schema):
    """Mastodon's Tag entity as search and trends show it (no usage history kept here)."""

    name: str
    url: str
    history: list[TagHistoryDay]


def caller(request: HttpRequest) -> Caller:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def own_account(request: HttpRequest) -> Account:
    """The account the request's token acts as (routes with ``OAuth()`` admit no other)."""
    me = caller(request).account
    assert me is not None
    return me


def path_id(value: str) -> int:
    """An id from a path; anything that is not one is not found, as with Mastodon."""
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_ID:
        raise not_found()
    return int(value)


def account_or_404(value: str) -> Account:
    account = (
        Account.objects.select_related(*ACCOUNT_RELATED)
        .filter(pk=path_id(value), suspended_at__isnull=True)
        .first()
    )
    if account is None:
        raise not_found()
    return account


def status_or_404(request: HttpRequest, value: str) -> Post:
    post = Renderer.joined(visible(Post.objects.filter(pk=path_id(value)), caller(request))).first()
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
        (p.pk, p) for p in paginate(Renderer.joined(posts), where)
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
    return render_timeline(request, response, entries)


def render_timeline(
    request: HttpRequest, response: HttpResponse, entries: Sequence[tuple[int, Post | Reaction]]
) -> list[dict[str, Any]]:
    """The statuses of a page of posts and boosts keyed by their timeline ids, newest
    first, with its Link header."""
    if entries:
        link_between(request, response, entries[0][0], entries[-1][0])
    return Renderer(request, caller(request)).timeline([entry for _key, entry in entries])


def boosts_of_visible(caller_: Caller) -> QuerySet[Reaction]:
    """Boosts of statuses ``caller_`` may see, by accounts not suspended.

    Only public and unlisted statuses are ever boosted (the API refuses the others and
    so does the inbox, as Mastodon does), so :func:`~parvis.api.visibility.visible`'s
    rules come down to conditions on the boosted row: a subquery over every post the
    caller may see cost a scan of the posts table on each timeline page.
    """
    boosts = Reaction.objects.filter(
        kind=Reaction.Kind.BOOST,
        account__suspended_at__isnull=True,
        post__deleted_at__isnull=True,
        post__account__suspended_at__isnull=True,
        post__visibility__in=(Visibility.PUBLIC, Visibility.UNLISTED),
    )
    me = caller_.account
    if me is None:
        return boosts
    return boosts.exclude(post__account__in=Block.objects.filter(target=me).values("account"))


def status_page(
    request: HttpRequest, response: HttpResponse, posts: QuerySet[Post], page: Page
) -> list[dict[str, Any]]:
    """A page of ``posts`` as Status entities, with its Link header."""
    rows = paginate(Renderer.joined(posts), window(page))
    link_header(request, response, rows)
    return Renderer(request, caller(request)).statuses(rows)


def validation_failed(problems: Iterable[str]) -> ApiError:
    """Mastodon's 422 for what a service or a model refused, naming every problem."""
    return ApiError(
        422, _("Échec de la validation : %(problems)s") % {"problems": " ".join(problems)}
    )


def followed_by(me: Account) -> QuerySet[Follow]:
    """The follows of ``me`` that were accepted (``values("target")``: whom it follows)."""
    return Follow.objects.filter(follower=me, state=Follow.State.ACCEPTED)
