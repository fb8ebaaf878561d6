"""Reading markers and preferences through the Mastodon client API.

Markers belong to the token's account, not to the staff member holding the token: the
whole team of the account shares them, as it shares the account's notifications. Reading
needs only the scope; saving one needs a role that writes for the account (an editor or
a publisher); a moderator's token gets 403. Request bodies are JSON or forms
(``home[last_read_id]=…``, read by :class:`parvis.api.params.SettingsWriter`).

Saving the notifications marker marks the account's notifications up to it read, for the
whole team and in the back-office too, as Mastodon counts unread notifications from it.

Known differences from Mastodon:

* A marker's ``version`` rises with every saved position, even an unchanged one
  (Mastodon leaves it when nothing changed); two concurrent saves give two versions, never
  a 409.
* Moving the notifications marker back does not make notifications unread again.
* Preferences are fixed: public visibility, not sensitive, the account's language, media
  and spoilers as the client decides.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import OAuth
from parvis.api.endpoints.common import own_account, validation_failed
from parvis.api.entities import iso
from parvis.api.params import SettingsWriter
from parvis.identity.models import Account
from parvis.interactions import services as interactions

router = Router(tags=["markers"])
ERRORS = schemas.ERRORS
WRITE_ERRORS = schemas.WRITE_ERRORS

_MAX_ID = 2**63 - 1

Timeline = models.Marker.Timeline


class Marker(Schema):
    last_read_id: str
    version: int
    updated_at: str


class Preferences(Schema):
    """Mastodon's preferences, whose names hold colons."""

    posting_default_visibility: str = Field(alias="posting:default:visibility")
    posting_default_sensitive: bool = Field(alias="posting:default:sensitive")
    posting_default_language: str | None = Field(alias="posting:default:language")
    reading_expand_media: str = Field(alias="reading:expand:media")
    reading_expand_spoilers: bool = Field(alias="reading:expand:spoilers")
    reading_autoplay_gifs: bool = Field(alias="reading:autoplay:gifs")


def _marker(row: models.Marker) -> dict[str, Any]:
    return {
        "last_read_id": str(row.last_read_id),
        "version": row.version,
        "updated_at": iso(row.updated_at),
    }


class MarkerQuery(Schema):
    timeline: list[str] = []


class MarkerPosition(Schema):
    last_read_id: str | int


class MarkerUpdate(Schema):
    home: MarkerPosition | None = None
    notifications: MarkerPosition | None = None


def _position(value: str | int) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_ID:
        raise validation_failed(
            [_("last_read_id n'est pas un identifiant : %(value)s") % {"value": text[:40]}]
        )
    return int(text)


@transaction.atomic
def save_marker(account: Account, timeline: str, last_read_id: int) -> models.Marker:
    """Save how far ``account`` read ``timeline``; each save is a new version.

    The version is raised by the database (``version + 1`` in the UPDATE), so concurrent
    saves never give the same version; the first save creates the row at version 1 (0 is
    "never saved"), and one that loses the race to create it updates it instead. The row
    is read back in the same transaction, which holds the row from the UPDATE on: the
    answer is this save's version, not that of a save made just after.
    """
    now = timezone.now()
    rows = models.Marker.objects.filter(account=account, timeline=timeline)
    changes = {"last_read_id": last_read_id, "version": F("version") + 1, "updated_at": now}
    if not rows.update(**changes):
        try:
            with transaction.atomic():
                models.Marker.objects.create(
                    account=account,
                    timeline=timeline,
                    last_read_id=last_read_id,
                    version=1,
                    updated_at=now,
                )
        except IntegrityError:
            rows.update(**changes)
    return rows.get()


@router.get("/v1/markers", response={200: dict[str, Marker], **ERRORS}, auth=OAuth("read:statuses"))
def get_markers(request: HttpRequest, query: Query[MarkerQuery]) -> dict[str, Any]:
    """The saved positions of the timelines asked for (``timeline[]``); none asked, none."""
    wanted = [name for name in query.timeline if name in Timeline.values]
    rows = models.Marker.objects.filter(account=own_account(request), timeline__in=wanted)
    return {row.timeline: _marker(row) for row in rows}


@router.post(
    "/v1/markers",
    response={200: dict[str, Marker], **WRITE_ERRORS},
    auth=SettingsWriter("write:statuses"),
)
def save_markers(request: HttpRequest, data: MarkerUpdate) -> dict[str, Any]:
    """Save the positions given (``home[last_read_id]``, ``notifications[last_read_id]``);
    the notifications up to the notifications marker are marked read."""
    me = own_account(request)
    given = {
        timeline: _position(position.last_read_id)
        for timeline, position in (
            (Timeline.HOME, data.home),
            (Timeline.NOTIFICATIONS, data.notifications),
        )
        if position is not None
    }
    with transaction.atomic():
        saved = {timeline: save_marker(me, timeline, pk) for timeline, pk in given.items()}
        if Timeline.NOTIFICATIONS in given:
            # Unread notifications are those after the marker, as Mastodon counts them.
            interactions.mark_notifications_read(me, up_to=given[Timeline.NOTIFICATIONS])
    return {str(timeline): _marker(row) for timeline, row in saved.items()}


# --- preferences -----------------------------------------------------------------------


@router.get(
    "/v1/preferences",
    response={200: Preferences, **ERRORS},
    auth=OAuth("read:accounts"),
    by_alias=True,
)
def preferences(request: HttpRequest) -> dict[str, Any]:
    """The account's posting defaults and the reading preferences apps follow."""
    return {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": own_account(request).language or None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
        "reading:autoplay:gifs": False,
    }
