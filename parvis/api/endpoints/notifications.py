"""``/api/v1/notifications`` and ``/api/v2/notifications``: what happened to the account.

Notifications belong to the account, not to the staff member holding the token: the
whole team of the account sees the same list, in the back-office as through the API, so
dismissing or clearing through one token removes them for every member of the team.

Groups (``/api/v2/notifications``) follow Mastodon's rules: favourites and boosts of the
same status, and new followers, fall into the same group when they are close in time.
Mastodon remembers a group's start when it records a notification and keeps a group open
for 12 hours from there; Parvis stores no group key, so it derives it when reading, from
fixed 12-hour windows (UTC): two favourites a minute apart on either side of 00:00 or
12:00 UTC fall into two groups. The key never changes, dismissing included.

Unread notifications are those the team has not marked read, in the back-office or by
saving the notifications marker (``POST /api/v1/markers``, as apps do).

The account's filters of the ``notifications`` context apply to the lists, v1 and v2: a
notification whose status a ``hide`` filter removes is left out (a page may hold fewer
than ``limit``), the others' statuses carry ``filtered``. One notification read by its id
is shown unfiltered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.common import caller, path_id
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import Renderer, iso
from parvis.api.errors import not_found
from parvis.api.pagination import Page, link_header, paginate, window
from parvis.identity.models import Account
from parvis.interactions import services as interactions
from parvis.interactions.models import AccountDomainBlock, Follow
from parvis.interactions.models import Notification as NotificationRow
from parvis.publishing.models import Post

router = Router(tags=["notifications"])
ERRORS = schemas.ERRORS

Kind = NotificationRow.Kind
# The types Mastodon groups (``admin.sign_up`` too, which Parvis never sends).
GROUPABLE = frozenset({Kind.FAVOURITE, Kind.BOOST, Kind.FOLLOW})
GROUP_SPAN_HOURS = 12


class Notification(Schema):
    id: str
    type: str
    group_key: str
    created_at: str
    account: schemas.Account
    status: schemas.Status | None = None
    # The account a ``move`` notification's account moved to, when it is known.
    target: schemas.Account | None = None


class UnreadCount(Schema):
    count: int


class Filters(Page):
    """``types[]``, ``exclude_types[]`` and ``account_id``, with the page parameters."""

    types: list[str] = []
    exclude_types: list[str] = []
    account_id: str | None = None


class UnreadFilters(Schema):
    limit: str | None = None
    types: list[str] = []
    exclude_types: list[str] = []
    account_id: str | None = None


# --- reading ---------------------------------------------------------------------------


def notifications_of(
    call: Caller, types: Sequence[str], exclude_types: Sequence[str], account_id: str | None
) -> QuerySet[NotificationRow]:
    """The caller's account's notifications that apps show, filtered as asked."""
    rows = NotificationRow.objects.filter(
        Q(post__isnull=True) | Q(post__deleted_at__isnull=True),
        recipient=call.account,
        # Mastodon drops what suspended accounts did; Parvis keeps the rows and hides them.
        from_account__suspended_at__isnull=True,
    )
    if types:
        rows = rows.filter(kind__in=types)
    if exclude_types:
        rows = rows.exclude(kind__in=exclude_types)
    if account_id:
        rows = rows.filter(from_account_id=path_id(account_id))
    # Accounts muted with their notifications; servers hidden, unless the account follows
    # the one who acted (as Mastodon).
    rows = rows.exclude(
        from_account__in=interactions.muted_accounts(call.account, notifications=True)  # type: ignore[arg-type]
    )
    return rows.exclude(
        Q(
            from_account__remote_host__in=AccountDomainBlock.objects.filter(
                account=call.account
            ).values("domain")
        )
        & ~Q(
            from_account__in=Follow.objects.filter(
                follower=call.account, state=Follow.State.ACCEPTED
            ).values("target")
        )
    )


def requested(request: HttpRequest, filters: Filters | UnreadFilters) -> QuerySet[NotificationRow]:
    """The caller's notifications of the types and account ``filters`` ask for."""
    return notifications_of(
        caller(request), filters.types, filters.exclude_types, filters.account_id
    )


def loaded(rows: QuerySet[NotificationRow]) -> QuerySet[NotificationRow]:
    """``rows`` with the accounts their entities show."""
    return rows.select_related(
        "from_account__domain",
        "from_account__institution",
        "from_account__moved_to__domain",
        "from_account__moved_to__institution",
    )


def bucket_start(moment: datetime) -> datetime:
    """The start of the fixed window of ``GROUP_SPAN_HOURS`` hours holding ``moment``."""
    hours = int(moment.timestamp()) // 3600
    return datetime.fromtimestamp((hours - hours % GROUP_SPAN_HOURS) * 3600, tz=UTC)


def group_key(
    pk: int, kind: str, post_id: int | None, created_at: datetime, grouped: Iterable[str]
) -> str:
    """Mastodon's ``<type>[-<status id>]-<hour>`` for grouped types, else ``ungrouped-<id>``."""
    if kind not in grouped:
        return f"ungrouped-{pk}"
    prefix = f"{kind}-{post_id}" if kind in (Kind.FAVOURITE, Kind.BOOST) else kind
    return f"{prefix}-{int(bucket_start(created_at).timestamp()) // 3600}"


def statuses_by_id(
    renderer: Renderer, post_ids: Iterable[int | None], accounts: Iterable[Account] = ()
) -> dict[int, dict[str, Any]]:
    """The Status entities of ``post_ids``, rendered in one batch; the counts of
    ``accounts`` are read with their authors'."""
    wanted = {pk for pk in post_ids if pk is not None}
    if not wanted:
        renderer.load_accounts(accounts)
        return {}
    posts = list(Renderer.joined(Post.objects.filter(pk__in=wanted)).order_by("-pk"))
    rendered = renderer.statuses(posts, accounts=accounts)
    return {post.pk: entity for post, entity in zip(posts, rendered, strict=True)}


def _entities(request: HttpRequest, rows: Sequence[NotificationRow]) -> list[dict[str, Any]]:
    """The Notification entities of ``rows`` (loaded with :func:`_loaded`)."""
    renderer = Renderer(request, caller(request))
    # The notifying accounts are counted with the statuses' authors, in one batch.
    statuses = statuses_by_id(
        renderer, (row.post_id for row in rows), [row.from_account for row in rows]
    )
    entities = []
    for row in rows:
        entity: dict[str, Any] = {
            "id": str(row.pk),
            "type": row.kind,
            "group_key": group_key(row.pk, row.kind, row.post_id, row.created_at, GROUPABLE),
            "created_at": iso(row.created_at),
            "account": renderer.account(row.from_account),
            "status": statuses.get(row.post_id) if row.post_id is not None else None,
        }
        moved_to = row.from_account.moved_to
        if row.kind == Kind.MOVE and moved_to is not None:
            entity["target"] = renderer.account(moved_to)
        entities.append(entity)
    return entities


def _filtered(call: Caller, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Notification entities with their statuses filtered: one whose status a ``hide``
    filter removes is left out."""
    statuses = [entity["status"] for entity in entities if entity["status"] is not None]
    shown = {
        status["id"]: status
        for status in filter_results(
            call.account,  # type: ignore[arg-type]
            statuses,
            context=models.Filter.Context.NOTIFICATIONS,
        )
    }
    return [
        entity if entity["status"] is None else {**entity, "status": shown[entity["status"]["id"]]}
        for entity in entities
        if entity["status"] is None or entity["status"]["id"] in shown
    ]


def _mine_or_404(request: HttpRequest, notification_id: str) -> NotificationRow:
    row = (
        loaded(notifications_of(caller(request), (), (), None))
        .filter(pk=path_id(notification_id))
        .first()
    )
    if row is None:
        raise not_found()
    return row


@router.get(
    "/v1/notifications",
    response={200: list[Notification], **ERRORS},
    auth=OAuth("read:notifications"),
)
def list_notifications(
    request: HttpRequest, response: HttpResponse, filters: Query[Filters]
) -> list[dict[str, Any]]:
    """The account's notifications, newest first, with Link headers."""
    rows = requested(request, filters)
    page = paginate(loaded(rows), window(filters, default=40, maximum=80))
    link_header(request, response, page)
    return _filtered(caller(request), _entities(request, page))


@router.get(
    "/v1/notifications/unread_count",
    response={200: UnreadCount, **ERRORS},
    auth=OAuth("read:notifications"),
)
def unread_count(request: HttpRequest, filters: Query[UnreadFilters]) -> dict[str, int]:
    """How many notifications the team has not read yet, up to ``limit`` (100, at most 1000)."""
    cap = window(Page(limit=filters.limit), default=100, maximum=1000).limit
    rows = requested(request, filters)
    return {"count": rows.filter(read_at__isnull=True)[:cap].count()}


@router.post(
    "/v1/notifications/clear",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:notifications"),
)
def clear(request: HttpRequest) -> dict[str, Any]:
    """Delete every notification of the account (for its whole team)."""
    interactions.clear_notifications(caller(request).account)  # type: ignore[arg-type]
    return {}


@router.get(
    "/v1/notifications/{notification_id}",
    response={200: Notification, **ERRORS},
    auth=OAuth("read:notifications"),
)
def get_notification(request: HttpRequest, notification_id: str) -> dict[str, Any]:
    """One notification of the account."""
    return _entities(request, [_mine_or_404(request, notification_id)])[0]


@router.post(
    "/v1/notifications/{notification_id}/dismiss",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:notifications"),
)
def dismiss(request: HttpRequest, notification_id: str) -> dict[str, Any]:
    """Delete one notification of the account (for its whole team)."""
    account = caller(request).account
    if not interactions.dismiss_notification(account, path_id(notification_id)):  # type: ignore[arg-type]
        raise not_found()
    return {}
