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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.common import caller, path_id
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import Renderer, iso
from parvis.api.errors import not_found
from parvis.api.pagination import Page, Window, link_header, paginate, window
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
# Mastodon shows at most this many accounts of a group.
SAMPLE_ACCOUNTS = 8


class Notification(Schema):
    id: str
    type: str
    group_key: str
    created_at: str
    account: schemas.Account
    status: schemas.Status | None = None
    # The account a ``move`` notification's account moved to, when it is known.
    target: schemas.Account | None = None


class NotificationGroup(Schema):
    group_key: str
    notifications_count: int
    type: str
    most_recent_notification_id: str
    page_min_id: str | None = None
    page_max_id: str | None = None
    latest_page_notification_at: str | None = None
    sample_account_ids: list[str]
    status_id: str | None = None


class GroupedNotifications(Schema):
    accounts: list[schemas.Account]
    statuses: list[schemas.Status]
    notification_groups: list[NotificationGroup]


class UnreadCount(Schema):
    count: int


class Filters(Page):
    """``types[]``, ``exclude_types[]`` and ``account_id``, with the page parameters."""

    types: list[str] = []
    exclude_types: list[str] = []
    account_id: str | None = None


class GroupedFilters(Filters):
    grouped_types: list[str] = []
    # Accepted and ignored: every account is rendered in full.
    expand_accounts: str | None = None
    include_filtered: bool = False


class UnreadFilters(Schema):
    limit: str | None = None
    types: list[str] = []
    exclude_types: list[str] = []
    account_id: str | None = None


# --- reading ---------------------------------------------------------------------------


def _notifications(
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


def _loaded(rows: QuerySet[NotificationRow]) -> QuerySet[NotificationRow]:
    return rows.select_related(
        "from_account__domain",
        "from_account__institution",
        "from_account__moved_to__domain",
        "from_account__moved_to__institution",
    )


def _bucket_start(moment: datetime) -> datetime:
    hours = int(moment.timestamp()) // 3600
    return datetime.fromtimestamp((hours - hours % GROUP_SPAN_HOURS) * 3600, tz=UTC)


def group_key(
    pk: int, kind: str, post_id: int | None, created_at: datetime, grouped: Iterable[str]
) -> str:
    """Mastodon's ``<type>[-<status id>]-<hour>`` for grouped types, else ``ungrouped-<id>``."""
    if kind not in grouped:
        return f"ungrouped-{pk}"
    prefix = f"{kind}-{post_id}" if kind in (Kind.FAVOURITE, Kind.BOOST) else kind
    return f"{prefix}-{int(_bucket_start(created_at).timestamp()) // 3600}"


def _members(row: NotificationRow) -> Q:
    """The notifications of the group of ``row`` (a grouped type)."""
    start = _bucket_start(row.created_at)
    return Q(
        kind=row.kind,
        post_id=row.post_id,
        created_at__gte=start,
        created_at__lt=start + timedelta(hours=GROUP_SPAN_HOURS),
    )


def _statuses(renderer: Renderer, post_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """The Status entities of ``post_ids``, rendered in one batch."""
    wanted = {pk for pk in post_ids if pk is not None}
    if not wanted:
        return {}
    posts = list(Renderer.prepare(Post.objects.filter(pk__in=wanted)).order_by("-pk"))
    return {post.pk: entity for post, entity in zip(posts, renderer.statuses(posts), strict=True)}


def _entities(request: HttpRequest, rows: Sequence[NotificationRow]) -> list[dict[str, Any]]:
    """The Notification entities of ``rows`` (loaded with :func:`_loaded`)."""
    renderer = Renderer(request, caller(request))
    statuses = _statuses(renderer, (row.post_id for row in rows))
    renderer.load_accounts(row.from_account for row in rows)
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
        _loaded(_notifications(caller(request), (), (), None))
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
    rows = _notifications(caller(request), filters.types, filters.exclude_types, filters.account_id)
    page = paginate(_loaded(rows), window(filters, default=40, maximum=80))
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
    rows = _notifications(caller(request), filters.types, filters.exclude_types, filters.account_id)
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


# --- grouped (v2) ----------------------------------------------------------------------


@dataclass
class _Group:
    """A group of a page, described by the notification that opened it until filled."""

    key: str
    row: NotificationRow
    count: int
    most_recent: int
    latest_at: datetime
    page_min: int
    sample: list[int]

    @classmethod
    def of(cls, key: str, row: NotificationRow) -> _Group:
        return cls(key, row, 1, row.pk, row.created_at, row.pk, [row.from_account_id])


def _group_page(
    rows: QuerySet[NotificationRow], where: Window, grouped: frozenset[str]
) -> list[_Group]:
    """The first ``limit`` groups of the window, each with the notification that opened it
    (its newest one going down the list, its oldest going up from ``min_id``), newest first.

    Rows are read in batches of a few columns until ``limit`` groups are found: a status
    favourited a thousand times is one group, not a thousand rows to render.
    """
    if where.max_id is not None:
        rows = rows.filter(pk__lt=where.max_id)
    if where.since_id is not None:
        rows = rows.filter(pk__gt=where.since_id)
    upward = where.min_id is not None
    if where.min_id is not None:
        rows = rows.filter(pk__gt=where.min_id)
    rows = rows.order_by("pk" if upward else "-pk")
    batch = max(2 * where.limit, 100)
    openers: dict[str, int] = {}
    cursor: int | None = None
    while len(openers) < where.limit:
        chunk = rows
        if cursor is not None:
            chunk = chunk.filter(pk__gt=cursor) if upward else chunk.filter(pk__lt=cursor)
        scanned = list(chunk.values_list("pk", "kind", "post_id", "created_at")[:batch])
        for pk, kind, post_id, created_at in scanned:
            openers.setdefault(group_key(pk, kind, post_id, created_at, grouped), pk)
            if len(openers) == where.limit:
                break
        if len(scanned) < batch:
            break
        cursor = scanned[-1][0]
    loaded = _loaded(NotificationRow.objects.filter(pk__in=openers.values())).in_bulk()
    groups = [_Group.of(key, loaded[pk]) for key, pk in openers.items()]
    return groups[::-1] if upward else groups


def _fill(rows: QuerySet[NotificationRow], groups: list[_Group], where: Window) -> None:
    """Count, sample and bound the groups of several notifications as Mastodon does: with
    every notification of the group up to the newest of the page, however old, and the
    oldest one within the page."""
    several = [group for group in groups if not group.key.startswith("ungrouped-")]
    if not several:
        return
    start: int | None = groups[-1].row.pk
    end: int | None = groups[0].row.pk
    if len(groups) < where.limit:
        # The last page in its direction reaches to the end of the list.
        if where.min_id is not None:
            end = where.max_id - 1 if where.max_id is not None else None
        else:
            start = where.since_id + 1 if where.since_id is not None else None
    upto = rows if end is None else rows.filter(pk__lte=end)
    from_start = Q() if start is None else Q(pk__gte=start)
    aggregates: dict[str, Any] = {}
    for n, group in enumerate(several):
        aggregates[f"count{n}"] = Count("pk", filter=_members(group.row))
        aggregates[f"min{n}"] = Min("pk", filter=_members(group.row) & from_start)
    totals = upto.aggregate(**aggregates)
    for n, group in enumerate(several):
        group.count = totals[f"count{n}"]
        group.page_min = totals[f"min{n}"]
        if group.count > 1:
            newest = list(
                upto.filter(_members(group.row))
                .order_by("-pk")
                .values_list("pk", "created_at", "from_account_id")[:SAMPLE_ACCOUNTS]
            )
            group.most_recent, group.latest_at = newest[0][0], newest[0][1]
            group.sample = [account_id for _pk, _at, account_id in newest]


@router.get(
    "/v2/notifications",
    response={200: GroupedNotifications, **ERRORS},
    auth=OAuth("read:notifications"),
)
def grouped_notifications(
    request: HttpRequest, response: HttpResponse, filters: Query[GroupedFilters]
) -> dict[str, Any]:
    """The account's notifications in groups, newest first, with Link headers."""
    rows = _notifications(caller(request), filters.types, filters.exclude_types, filters.account_id)
    where = window(filters, default=40, maximum=80)
    grouped = GROUPABLE & set(filters.grouped_types) if filters.grouped_types else GROUPABLE
    groups = _group_page(rows, where, grouped)
    _fill(rows, groups, where)
    link_header(request, response, [group.row for group in groups])
    renderer = Renderer(request, caller(request))
    rendered = _statuses(renderer, (group.row.post_id for group in groups)).values()
    statuses = {
        int(status["id"]): status
        for status in filter_results(
            caller(request).account,  # type: ignore[arg-type]
            list(rendered),
            context=models.Filter.Context.NOTIFICATIONS,
        )
    }
    # The groups of statuses a hide filter removes are left out, after the Link header:
    # the next page starts after them.
    groups = [
        group for group in groups if group.row.post_id is None or group.row.post_id in statuses
    ]
    # Each account once, in the order the groups name them.
    wanted = list(dict.fromkeys(pk for group in groups for pk in group.sample))
    accounts = Account.objects.select_related("domain", "institution").in_bulk(wanted)
    renderer.load_accounts(accounts.values())
    return {
        "accounts": [renderer.account(accounts[pk]) for pk in wanted if pk in accounts],
        "statuses": list(statuses.values()),
        "notification_groups": [
            {
                "group_key": group.key,
                "notifications_count": group.count,
                "type": group.row.kind,
                "most_recent_notification_id": str(group.most_recent),
                "page_min_id": str(group.page_min),
                "page_max_id": str(group.most_recent),
                "latest_page_notification_at": iso(group.latest_at),
                "sample_account_ids": [str(pk) for pk in group.sample],
                "status_id": str(group.row.post_id) if group.row.post_id is not None else None,
            }
            for group in groups
        ],
    }
