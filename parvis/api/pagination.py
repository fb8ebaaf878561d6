"""Mastodon's pagination: ``max_id``, ``since_id``, ``min_id``, ``limit``, and Link headers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from ninja import Schema

from parvis.api.errors import ApiError

M = TypeVar("M", bound=Model)
# Mastodon's lists of accounts: 40 by default, at most twice that.
ACCOUNTS_LIMIT = 40
ACCOUNTS_MAXIMUM = 80
_MAX_ID = 2**63 - 1


class Page(Schema):
    """The query parameters of a paginated list."""

    max_id: str | None = None
    since_id: str | None = None
    min_id: str | None = None
    limit: str | None = None


@dataclass
class Window:
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int


def _id(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_ID:
        raise ApiError(
            400,
            _("%(name)s n'est pas un identifiant : %(value)s")
            % {
                "name": name,
                "value": value[:40],
            },
        )
    return int(value)


def window(page: Page, *, default: int = 20, maximum: int = 40) -> Window:
    """The parsed parameters; 400 for ids that are not ids and limits that are not numbers."""
    limit = default
    if page.limit not in (None, ""):
        text = str(page.limit)
        if not (text.isascii() and text.isdigit()):
            raise ApiError(400, _("limit n'est pas un nombre : %(value)s") % {"value": text[:40]})
        limit = max(1, min(int(text), maximum))
    return Window(
        _id(page.max_id, "max_id"),
        _id(page.since_id, "since_id"),
        _id(page.min_id, "min_id"),
        limit,
    )


def paginate(queryset: QuerySet[M], where: Window, field: str = "pk") -> list[M]:
    """The page of ``queryset`` (newest first; oldest first above ``min_id``, then reversed)."""
    if where.max_id is not None:
        queryset = queryset.filter(**{f"{field}__lt": where.max_id})
    if where.since_id is not None:
        queryset = queryset.filter(**{f"{field}__gt": where.since_id})
    if where.min_id is not None:
        rows = list(
            queryset.filter(**{f"{field}__gt": where.min_id}).order_by(field)[: where.limit]
        )
        return rows[::-1]
    return list(queryset.order_by(f"-{field}")[: where.limit])


def link_header(
    request: HttpRequest, response: HttpResponse, rows: Sequence[Any], key: str = "pk"
) -> None:
    """``Link: <…max_id=oldest>; rel="next", <…min_id=newest>; rel="prev"`` for a page."""
    if rows:
        link_between(request, response, getattr(rows[0], key), getattr(rows[-1], key))


def link_between(request: HttpRequest, response: HttpResponse, newest: int, oldest: int) -> None:
    """The Link header of a page whose entries run from id ``newest`` down to ``oldest``."""
    base = request.build_absolute_uri(request.path)
    # Every value of repeated parameters (types[]=a&types[]=b) is kept.
    kept = [
        (key, value)
        for key, values in request.GET.lists()
        if key not in ("max_id", "min_id", "since_id")
        for value in values
    ]
    next_url = f"{base}?{urlencode([*kept, ('max_id', oldest)])}"
    prev_url = f"{base}?{urlencode([*kept, ('min_id', newest)])}"
    response["Link"] = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
