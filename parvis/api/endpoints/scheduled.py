"""Scheduled statuses: ``/api/v1/scheduled_statuses``.

The account's scheduled posts are listed and shown to every role on the account; the
roles that publish for it move them to another time or cancel them, through the
publishing services (which check the role again and name what they refuse).

Known differences from Mastodon:

* ``params.parvis_state`` is Parvis's own: ``scheduled`` here, as in the 202 answers of
  ``POST /api/v1/statuses`` (see docs/api.md).
* ``DELETE /api/v1/scheduled_statuses/:id`` takes the post back to the account's drafts
  (Mastodon deletes it): nothing is published at its time, and what was written stays.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from parvis.api import schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.common import caller, path_id, validation_failed
from parvis.api.endpoints.statuses import ScheduledStatus
from parvis.api.entities import Renderer
from parvis.api.errors import ApiError, not_found
from parvis.api.pagination import Page, link_header, paginate, window
from parvis.identity.models import Staff
from parvis.identity.services import Capability
from parvis.publishing.models import Draft
from parvis.publishing.services import cancel_scheduled_draft, reschedule_draft

router = Router(tags=["scheduled"])
ERRORS = schemas.ERRORS


class ScheduleChange(Schema):
    scheduled_at: str | None = None


def _scheduled_drafts(call: Caller) -> QuerySet[Draft]:
    return Draft.objects.select_related("account__domain").filter(
        account=call.account, state=Draft.State.SCHEDULED
    )


def _scheduled_or_404(call: Caller, scheduled_id: str) -> Draft:
    draft = _scheduled_drafts(call).filter(pk=path_id(scheduled_id)).first()
    if draft is None:
        raise not_found()
    return draft


def _refused() -> ApiError:
    return ApiError(403, _("Votre rôle sur ce compte ne permet pas de publier."))


def _publisher(call: Caller) -> Staff:
    """The staff member of a token whose role publishes; 403 before the body is read for
    any other role (the services check the role again, under their lock)."""
    if Capability.PUBLISH not in call.capabilities or call.staff is None:
        raise _refused()
    return call.staff


@router.get(
    "/v1/scheduled_statuses",
    response={200: list[ScheduledStatus], **ERRORS},
    auth=OAuth("read:statuses"),
)
def scheduled_statuses(
    request: HttpRequest, response: HttpResponse, page: Query[Page]
) -> list[dict[str, Any]]:
    """The account's scheduled statuses, by id (newest first), with a Link header."""
    call = caller(request)
    drafts = paginate(_scheduled_drafts(call), window(page))
    link_header(request, response, drafts)
    renderer = Renderer(request, call)
    return [renderer.scheduled(draft) for draft in drafts]


@router.get(
    "/v1/scheduled_statuses/{scheduled_id}",
    response={200: ScheduledStatus, **ERRORS},
    auth=OAuth("read:statuses"),
)
def scheduled_status(request: HttpRequest, scheduled_id: str) -> dict[str, Any]:
    """One of the account's scheduled statuses."""
    call = caller(request)
    return Renderer(request, call).scheduled(_scheduled_or_404(call, scheduled_id))


def _schedule_body(request: HttpRequest, data: ScheduleChange) -> str | None:
    """``scheduled_at`` of a JSON body or of a form (Django reads no form of a PUT)."""
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(request.body, encoding=request.encoding).get("scheduled_at")
    return data.scheduled_at


@router.put(
    "/v1/scheduled_statuses/{scheduled_id}",
    response={200: ScheduledStatus, **ERRORS},
    auth=OAuth("write:statuses"),
)
def reschedule(request: HttpRequest, scheduled_id: str, data: ScheduleChange) -> dict[str, Any]:
    """Move a scheduled status to another time (at least five minutes ahead, with its
    time zone); the answer is the status as now scheduled."""
    call = caller(request)
    draft = _scheduled_or_404(call, scheduled_id)
    staff = _publisher(call)
    value = _schedule_body(request, data)
    try:
        when = parse_datetime(value) if value else None
    except ValueError:  # written as a date, and none (the 30th of February)
        when = None
    if when is None:
        raise ApiError(
            422,
            _("scheduled_at n'est pas une date : %(value)s") % {"value": (value or "")[:40]},
        )
    try:
        draft = reschedule_draft(staff, draft, when)
    except PermissionDenied:
        raise _refused() from None
    except ValidationError as error:
        raise validation_failed(error.messages) from None
    return Renderer(request, call).scheduled(draft)


@router.delete(
    "/v1/scheduled_statuses/{scheduled_id}",
    response={200: dict[str, str], **ERRORS},
    auth=OAuth("write:statuses"),
)
def cancel_scheduled(request: HttpRequest, scheduled_id: str) -> dict[str, str]:
    """Cancel a scheduled status: it goes back to the account's drafts. The answer is
    ``{}``, as Mastodon's."""
    call = caller(request)
    draft = _scheduled_or_404(call, scheduled_id)
    staff = _publisher(call)
    try:
        cancel_scheduled_draft(staff, draft)
    except PermissionDenied:
        raise _refused() from None
    except ValidationError as error:
        raise validation_failed(error.messages) from None
    return {}
