"""``/api/v1/statuses``: write, read, delete statuses, and the thread around one.

A status is written as the token's account, with the rights of the staff member's role
on it: a publisher's token publishes (or schedules), an editor's token submits a draft for
approval (answered 202 with a ScheduledStatus-shaped entity, see docs/api.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from parvis.api import models, schemas
from parvis.api.auth import ANYONE, Caller, OAuth
from parvis.api.endpoints.common import boosts_of_visible, caller, path_id, status_or_404
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import VISIBILITY_IN, Renderer, iso
from parvis.api.errors import ApiError, not_found
from parvis.api.visibility import visible
from parvis.identity.services import Capability
from parvis.publishing import services
from parvis.publishing.models import Draft, Post

router = Router(tags=["statuses"])
ERRORS = schemas.ERRORS
# Mastodon keeps an Idempotency-Key for an hour.
IDEMPOTENCY_SECONDS = 3600


class NewStatus(Schema):
    status: str | None = None
    media_ids: list[str] = []
    in_reply_to_id: str | None = None
    sensitive: bool = False
    spoiler_text: str = ""
    visibility: str | None = None
    language: str | None = None
    scheduled_at: str | None = None
    poll: dict[str, Any] | None = None


class ScheduledStatus(Schema):
    id: str
    scheduled_at: str | None
    params: dict[str, Any]
    media_attachments: list[schemas.MediaAttachment]


def _messages(error: ValidationError) -> str:
    return _("Échec de la validation : %(problems)s") % {"problems": " ".join(error.messages)}


def _content(call: Caller, data: NewStatus) -> tuple[services.Content, list[int], datetime | None]:
    """The content to write, the media ids and the time asked for; 4xx for what is wrong."""
    account = call.account
    assert account is not None
    if data.poll:
        raise ApiError(422, _("Les sondages ne sont pas pris en charge."))
    visibility = VISIBILITY_IN.get(data.visibility or "public")
    if visibility is None:
        raise ApiError(422, _("Visibilité inconnue : %(value)s") % {"value": data.visibility})
    parent = None
    if data.in_reply_to_id:
        parent = visible(Post.objects.filter(pk=path_id(data.in_reply_to_id)), call).first()
        if parent is None:
            raise not_found()
    media_ids = [path_id(m) for m in data.media_ids]
    when = None
    if data.scheduled_at:
        when = parse_datetime(data.scheduled_at)
        if when is None:
            raise ApiError(
                422,
                _("scheduled_at n'est pas une date : %(value)s")
                % {"value": data.scheduled_at[:40]},
            )
    content = services.Content(
        text=data.status or "",
        spoiler_text=data.spoiler_text or "",
        sensitive=bool(data.sensitive),
        language=data.language or account.language,
        visibility=visibility,
        in_reply_to=parent,
    )
    return content, media_ids, when


@router.post(
    "/v1/statuses",
    response={200: schemas.Status, 202: ScheduledStatus, **ERRORS},
    auth=OAuth("write:statuses"),
)
def create_status(request: HttpRequest, data: NewStatus) -> Any:
    """Publish (or schedule, or submit for approval) a status as the token's account."""
    call = caller(request)
    staff, account = call.staff, call.account
    assert staff is not None and account is not None
    if Capability.WRITE_DRAFT not in call.capabilities:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas d'écrire."))
    key = request.headers.get("Idempotency-Key", "")[:200]
    remembered = f"api:idempotency:{staff.pk}:{account.pk}:{key}" if key else None
    if remembered and (earlier := cache.get(remembered)) is not None:
        return _replay(request, call, earlier)
    content, media_ids, when = _content(call, data)
    try:
        with transaction.atomic():
            if Capability.PUBLISH in call.capabilities and when is None:
                post = services.publish_post(staff, account, content, media_ids=media_ids)
                result: tuple[str, int] = ("status", post.pk)
            else:
                draft = services.save_draft(staff, account, content, media_ids=media_ids)
                if Capability.PUBLISH in call.capabilities:
                    draft = services.publish_draft(staff, draft, scheduled_at=when)
                else:
                    draft = services.submit_draft(staff, draft, scheduled_at=when)
                result = ("draft", draft.pk)
    except ValidationError as error:
        raise ApiError(422, _messages(error)) from None
    except PermissionDenied:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas d'écrire.")) from None
    if remembered:
        cache.set(remembered, result, IDEMPOTENCY_SECONDS)
    return _replay(request, call, result)


def _replay(request: HttpRequest, call: Caller, result: tuple[str, int]) -> Any:
    kind, pk = result
    if kind == "status":
        post = Renderer.joined(Post.objects.filter(pk=pk)).first()
        if post is None:
            raise not_found()
        return Status(200, Renderer(request, call).status(post))
    draft = Draft.objects.select_related("account__domain").filter(pk=pk).first()
    if draft is None:
        raise not_found()
    return Status(202, Renderer(request, call).scheduled(draft))


@router.get(
    "/v1/statuses/{status_id}",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def get_status(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """One status the caller may see (a boost is the booster's status around another)."""
    call = caller(request)
    boost = (
        boosts_of_visible(call)
        .filter(timeline_id=path_id(status_id))
        .select_related("account__domain", "account__institution")
        .first()
    )
    if boost is not None:
        return Renderer(request, call).timeline([boost])[0]
    return Renderer(request, call).status(status_or_404(request, status_id))


@router.delete(
    "/v1/statuses/{status_id}",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:statuses"),
)
def delete_status(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Delete one of the account's statuses; the answer carries its text, for a redraft."""
    call = caller(request)
    post = status_or_404(request, status_id)
    if post.account_id != call.account.pk:  # type: ignore[union-attr]
        raise not_found()
    entity = Renderer(request, call).status(post)
    try:
        services.delete_post(call.staff, post)  # type: ignore[arg-type]
    except PermissionDenied:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas de supprimer.")) from None
    except ValidationError as error:
        raise ApiError(422, _messages(error)) from None
    entity["text"] = post.text
    return entity


@router.get(
    "/v1/statuses/{status_id}/context",
    response={200: schemas.Context, **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def context(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """The statuses above one (what it answers) and below it (the answers), as visible,
    with the caller's filters of the ``thread`` context applied (not to the status asked
    for, which is not in the answer)."""
    call = caller(request)
    post = status_or_404(request, status_id)
    ancestors: list[Post] = []
    parent_id = post.in_reply_to_id
    while parent_id is not None and len(ancestors) < 40:
        parent = Renderer.joined(visible(Post.objects.filter(pk=parent_id), call)).first()
        if parent is None:
            break
        ancestors.append(parent)
        parent_id = parent.in_reply_to_id
    descendants: list[Post] = []
    level = [post.pk]
    while level and len(descendants) < 60:
        replies = list(
            Renderer.joined(visible(Post.objects.filter(in_reply_to__in=level), call)).order_by(
                "pk"
            )[: 60 - len(descendants)]
        )
        descendants.extend(replies)
        level = [reply.pk for reply in replies]
    renderer = Renderer(request, call)
    thread = {
        "ancestors": renderer.statuses(ancestors[::-1]),
        "descendants": renderer.statuses(descendants),
    }
    if call.account is None:
        return thread
    return {
        part: filter_results(call.account, statuses, context=models.Filter.Context.THREAD)
        for part, statuses in thread.items()
    }


class StatusEdit(Schema):
    content: str
    spoiler_text: str
    sensitive: bool
    created_at: str
    account: schemas.Account
    poll: dict[str, Any] | None
    media_attachments: list[schemas.MediaAttachment]
    emojis: list[schemas.CustomEmoji]


class StatusSource(Schema):
    id: str
    text: str
    spoiler_text: str


class EditedStatus(Schema):
    status: str | None = None
    spoiler_text: str | None = None
    sensitive: bool | None = None
    language: str | None = None
    media_ids: list[str] | None = None
    poll: dict[str, Any] | None = None


def _own(request: HttpRequest, status_id: str) -> Post:
    """A status of the token's own account (another account's is not found)."""
    post = status_or_404(request, status_id)
    if post.account_id != caller(request).account.pk:  # type: ignore[union-attr]
        raise not_found()
    return post


@router.put(
    "/v1/statuses/{status_id}",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:statuses"),
)
def edit_status(request: HttpRequest, status_id: str, data: EditedStatus) -> dict[str, Any]:
    """Edit a status: the earlier versions stay readable in its history."""
    call = caller(request)
    post = _own(request, status_id)
    if data.poll:
        raise ApiError(422, _("Les sondages ne sont pas pris en charge."))
    if data.media_ids is not None and {path_id(m) for m in data.media_ids} != set(
        post.media.values_list("id", flat=True)
    ):
        raise ApiError(422, _("Les images d'un message publié ne se changent pas."))
    content = services.Content(
        text=post.text if data.status is None else data.status,
        spoiler_text=post.spoiler_text if data.spoiler_text is None else data.spoiler_text,
        sensitive=post.sensitive if data.sensitive is None else data.sensitive,
        language=data.language or post.language,
        visibility=post.visibility,
    )
    try:
        services.edit_post(call.staff, post, content)  # type: ignore[arg-type]
    except PermissionDenied:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas de modifier.")) from None
    except ValidationError as error:
        raise ApiError(422, _messages(error)) from None
    return Renderer(request, call).status(status_or_404(request, status_id))


@router.get(
    "/v1/statuses/{status_id}/history",
    response={200: list[StatusEdit], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def history(request: HttpRequest, status_id: str) -> list[dict[str, Any]]:
    """Every version of a status, oldest first (one, for a status never edited)."""
    post = status_or_404(request, status_id)
    renderer = Renderer(request, caller(request))
    author = renderer.account(post.account)
    media = renderer.statuses([post])[0]["media_attachments"]
    versions = list(post.edits.order_by("created_at", "pk"))

    def version(content: str, spoiler: str, sensitive: bool, at: datetime) -> dict[str, Any]:
        return {
            "content": content,
            "spoiler_text": spoiler,
            "sensitive": sensitive,
            "created_at": iso(at),
            "account": author,
            "poll": None,
            "media_attachments": media,
            "emojis": [],
        }

    if not versions:
        return [version(post.content_html, post.spoiler_text, post.sensitive, post.published_at)]
    return [version(v.content_html, v.spoiler_text, v.sensitive, v.created_at) for v in versions]


@router.get(
    "/v1/statuses/{status_id}/source",
    response={200: StatusSource, **ERRORS},
    auth=OAuth("read:statuses"),
)
def source(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """The text of one of the account's statuses as written, to edit it."""
    post = _own(request, status_id)
    return {"id": str(post.pk), "text": post.text, "spoiler_text": post.spoiler_text}


@router.get(
    "/v1/polls/{poll_id}",
    response={200: schemas.Poll, **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def poll(request: HttpRequest, poll_id: str) -> dict[str, Any]:
    """The poll of a status the caller may see (a poll's id is its status's)."""
    entity = Renderer(request, caller(request)).poll(status_or_404(request, poll_id))
    if entity is None:
        raise not_found()
    return entity
