"""``/api/v2/notifications``: the account's notifications in groups, as Mastodon 4.3 shows
them (see :mod:`parvis.api.endpoints.notifications` for how groups are formed), a group at
a time, its unread count, and dismissing a whole group.

A group is named by its ``group_key``: ``ungrouped-<id>`` for a notification alone, else
``<type>[-<status id>]-<hour>``, the hour (since 1970, UTC) its 12-hour window starts. A key
that is not one of these, or names no notification of the account, is a 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import OAuth
from parvis.api.endpoints.common import caller
from parvis.api.endpoints.filters import filter_results
from parvis.api.endpoints.notifications import (
    GROUP_SPAN_HOURS,
    GROUPABLE,
    Filters,
    Kind,
    UnreadCount,
    UnreadFilters,
    bucket_start,
    group_key,
    loaded,
    notifications_of,
    requested,
    statuses_by_id,
)
from parvis.api.entities import ACCOUNT_RELATED, Renderer, iso
from parvis.api.errors import not_found
from parvis.api.pagination import ACCOUNTS_MAXIMUM, Page, Window, link_header, window
from parvis.identity.models import Account
from parvis.interactions import services as interactions
from parvis.interactions.models import Notification as NotificationRow

router = Router(tags=["notifications"])
ERRORS = schemas.ERRORS
# Mastodon shows at most this many accounts of a group.
SAMPLE_ACCOUNTS = 8
_KEY = re.compile(
    r"ungrouped-(?P<pk>[0-9]{1,19})"
    r"|(?P<kind>[a-z_]{1,32})(?:-(?P<post>[0-9]{1,19}))?-(?P<hour>[0-9]{1,9})"
)


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


class GroupedFilters(Filters):
    grouped_types: list[str] = []
    # Accepted and ignored: every account is rendered in full.
    expand_accounts: str | None = None
    include_filtered: bool = False


def _members(row: NotificationRow) -> Q:
    """The notifications of the group of ``row`` (a grouped type)."""
    start = bucket_start(row.created_at)
    return Q(
        kind=row.kind,
        post_id=row.post_id,
        created_at__gte=start,
        created_at__lt=start + timedelta(hours=GROUP_SPAN_HOURS),
    )


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


def _openers(
    rows: QuerySet[NotificationRow], where: Window, grouped: frozenset[str]
) -> dict[str, int]:
    """The keys of the first ``limit`` groups of the window, each with the id of the
    notification that opened it (its newest one going down the list, its oldest going up
    from ``min_id``), in the order met.

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
    return openers


def _group_page(
    rows: QuerySet[NotificationRow], where: Window, grouped: frozenset[str]
) -> list[_Group]:
    """The first ``limit`` groups of the window, newest first."""
    openers = _openers(rows, where, grouped)
    found = loaded(NotificationRow.objects.filter(pk__in=openers.values())).in_bulk()
    groups = [_Group.of(key, found[pk]) for key, pk in openers.items()]
    return groups[::-1] if where.min_id is not None else groups


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


def _results(request: HttpRequest, groups: list[_Group]) -> dict[str, Any]:
    """The GroupedNotificationsResults of ``groups``: their accounts and statuses once each.

    The groups of statuses a ``hide`` filter removes are left out.
    """
    renderer = Renderer(request, caller(request))
    rendered = statuses_by_id(renderer, (group.row.post_id for group in groups)).values()
    statuses = {
        int(status["id"]): status
        for status in filter_results(
            caller(request).account,  # type: ignore[arg-type]
            list(rendered),
            context=models.Filter.Context.NOTIFICATIONS,
        )
    }
    groups = [
        group for group in groups if group.row.post_id is None or group.row.post_id in statuses
    ]
    # Each account once, in the order the groups name them.
    wanted = list(dict.fromkeys(pk for group in groups for pk in group.sample))
    accounts = Account.objects.select_related(*ACCOUNT_RELATED).in_bulk(wanted)
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


@router.get(
    "/v2/notifications",
    response={200: GroupedNotifications, **ERRORS},
    auth=OAuth("read:notifications"),
)
def grouped_notifications(
    request: HttpRequest, response: HttpResponse, filters: Query[GroupedFilters]
) -> dict[str, Any]:
    """The account's notifications in groups, newest first, with Link headers."""
    rows = requested(request, filters)
    where = window(filters, default=40, maximum=80)
    groups = _group_page(rows, where, _grouped(filters.grouped_types))
    _fill(rows, groups, where)
    # Groups a filter hides are left out after the Link header: the next page starts
    # after them.
    link_header(request, response, [group.row for group in groups])
    return _results(request, groups)


def _grouped(grouped_types: list[str]) -> frozenset[str]:
    return GROUPABLE & set(grouped_types) if grouped_types else GROUPABLE


class GroupedUnreadFilters(UnreadFilters):
    grouped_types: list[str] = []


@router.get(
    "/v2/notifications/unread_count",
    response={200: UnreadCount, **ERRORS},
    auth=OAuth("read:notifications"),
)
def unread_groups(request: HttpRequest, filters: Query[GroupedUnreadFilters]) -> dict[str, int]:
    """How many groups of notifications hold unread ones, up to ``limit`` (100, at most
    1,000)."""
    cap = window(Page(limit=filters.limit), default=100, maximum=1000).limit
    rows = requested(request, filters)
    unread = rows.filter(read_at__isnull=True)
    where = Window(max_id=None, since_id=None, min_id=None, limit=cap)
    return {"count": len(_openers(unread, where, _grouped(filters.grouped_types)))}


def _group_rows(request: HttpRequest, key: str) -> QuerySet[NotificationRow]:
    """The account's notifications of the group ``key``; 404 for a key of none."""
    rows = notifications_of(caller(request), (), (), None)
    found = _KEY.fullmatch(key)
    if found is None:
        raise not_found()
    if found["pk"] is not None:
        return rows.filter(pk=int(found["pk"]))
    kind, post, hour = found["kind"], found["post"], int(found["hour"])
    # A post is in the key of favourites and boosts, and only there.
    if kind not in GROUPABLE or (post is None) != (kind == Kind.FOLLOW):
        raise not_found()
    start = datetime.fromtimestamp(hour * 3600, tz=UTC)
    if bucket_start(start) != start:
        raise not_found()
    return rows.filter(
        kind=kind,
        post_id=int(post) if post is not None else None,
        created_at__gte=start,
        created_at__lt=start + timedelta(hours=GROUP_SPAN_HOURS),
    )


@router.get(
    "/v2/notifications/{group_key}",
    response={200: GroupedNotifications, **ERRORS},
    auth=OAuth("read:notifications"),
)
def get_group(request: HttpRequest, group_key: str) -> dict[str, Any]:
    """One group of notifications, with all of its notifications counted."""
    rows = _group_rows(request, group_key)
    newest = loaded(rows).order_by("-pk").first()
    if newest is None:
        raise not_found()
    group = _Group.of(group_key, newest)
    # A window wider than the one group reaches to the group's oldest notification.
    _fill(rows, [group], Window(max_id=None, since_id=None, min_id=None, limit=2))
    return _results(request, [group])


@router.get(
    "/v2/notifications/{group_key}/accounts",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:notifications"),
)
def group_accounts(request: HttpRequest, group_key: str) -> list[dict[str, Any]]:
    """The accounts of a group's notifications, newest first (at most 80)."""
    rows = _group_rows(request, group_key)
    ids = list(
        dict.fromkeys(rows.order_by("-pk").values_list("from_account_id", flat=True)[:1000])
    )[:ACCOUNTS_MAXIMUM]
    if not ids:
        raise not_found()
    accounts = Account.objects.select_related(*ACCOUNT_RELATED).in_bulk(ids)
    renderer = Renderer(request, caller(request))
    renderer.load_accounts(accounts.values())
    return [renderer.account(accounts[pk]) for pk in ids if pk in accounts]


@router.post(
    "/v2/notifications/{group_key}/dismiss",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:notifications"),
)
def dismiss_group(request: HttpRequest, group_key: str) -> dict[str, Any]:
    """Delete every notification of a group (for the account's whole team)."""
    ids = list(_group_rows(request, group_key).values_list("pk", flat=True))
    if not interactions.dismiss_notifications(caller(request).account, ids):  # type: ignore[arg-type]
        raise not_found()
    return {}
