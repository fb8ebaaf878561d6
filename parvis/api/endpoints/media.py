"""``/api/v1/media`` and ``/api/v2/media``: images uploaded for a status to come.

Parvis checks, re-encodes (without metadata) and thumbnails an image while it receives
it, so ``POST /api/v2/media`` answers 200 with the finished attachment, as Mastodon does
for a small image (it answers 202 while it is still processing a larger one).

Where Parvis differs from Mastodon:

- **The alt text is required.** Mastodon accepts an upload without ``description`` (an
  app may add it later through ``PUT``, or never); Parvis refuses it with a 422 naming
  the image, and refuses to empty it through ``PUT``: what a public institution
  publishes must be accessible. Apps that upload first and describe later cannot
  upload to Parvis.
- Images only (JPEG, PNG, WebP, GIF, at most ``PARVIS_MAX_IMAGE_BYTES`` and
  ``PARVIS_MAX_IMAGE_PIXELS``; a GIF keeps its first frame): no video, no audio. A
  custom ``thumbnail`` is ignored.
- ``focus`` (``"x,y"``, each from -1 to 1) is kept and federated as Mastodon's
  ``focalPoint``; a malformed one is refused (422) where Mastodon ignores it.
- ``GET /api/v1/media/:id`` also shows the account's attachments already published
  (Mastodon answers 404 for those); ``PUT`` is for attachments not published yet, as
  with Mastodon.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.core.files.uploadhandler import load_handler
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from pydantic import ValidationError as SchemaError

from parvis.api import schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.common import caller, path_id
from parvis.api.entities import Renderer
from parvis.api.errors import ApiError, not_found
from parvis.api.params import nested
from parvis.identity.services import Capability
from parvis.publishing import services
from parvis.publishing.models import MediaAttachment

router = Router(tags=["media"])
ERRORS = schemas.WRITE_ERRORS


class NewMedia(Schema):
    description: str = ""
    focus: str | None = None


class MediaUpdate(Schema):
    description: str | None = None
    focus: str | None = None


class _BodyFirst(OAuth):
    """The token, then the body: a body Django refuses (too big, too many fields, broken
    multipart) ends with Mastodon's JSON error. Ninja reads the body before the view runs,
    and Django would otherwise answer these with an HTML 400."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        call = super().__call__(request)
        try:
            if request.method == "POST":
                request.FILES  # noqa: B018 -- reading it parses the whole form
            else:
                request.body  # noqa: B018
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            raise ApiError(413, _("La requête est trop volumineuse.")) from None
        except MultiPartParserError:
            raise ApiError(400, _("Le formulaire envoyé est illisible.")) from None
        return call


def _messages(error: ValidationError) -> str:
    return _("Échec de la validation : %(problems)s") % {"problems": " ".join(error.messages)}


def _may_write(call: Caller) -> None:
    if Capability.WRITE_DRAFT not in call.capabilities:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas d'écrire."))


def _entity(request: HttpRequest, call: Caller, media: MediaAttachment) -> dict[str, Any]:
    """The MediaAttachment entity, exactly as statuses show it."""
    return Renderer(request, call).media(media.account, media)


def _own(request: HttpRequest, media_id: str) -> MediaAttachment:
    media = (
        MediaAttachment.objects.select_related("account__domain")
        .filter(pk=path_id(media_id), account=caller(request).account)
        .first()
    )
    if media is None:
        raise not_found()
    return media


def _focus(value: str) -> tuple[float, float]:
    """Mastodon's ``focus`` parameter, ``"x,y"``; 422 naming it when it is not that."""
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = (float(part) for part in parts)
    except ValueError:
        raise ApiError(
            422,
            _("focus doit être « x,y », deux nombres de -1 à 1 : %(value)s")
            % {"value": value[:40]},
        ) from None
    return x, y


def _upload(request: HttpRequest, file: UploadedFile, form: NewMedia) -> dict[str, Any]:
    call = caller(request)
    staff, account = call.staff, call.account
    assert staff is not None and account is not None
    _may_write(call)
    name = (file.name or "image")[:100]
    limit = settings.PARVIS_MAX_IMAGE_BYTES
    if file.size is not None and file.size > limit:
        # Refused before it is read into memory (Django keeps large uploads on disk).
        megabytes = 1024 * 1024
        too_heavy = _("L'image « %(name)s » pèse %(size)d Mo ; la limite est %(max)d Mo.") % {
            "name": name,
            "size": -(-file.size // megabytes),
            "max": limit // megabytes,
        }
        raise ApiError(422, _messages(ValidationError(too_heavy)))
    try:
        media = services.upload_media(
            staff,
            account,
            file.read(limit + 1),
            filename=name,
            description=form.description,
            focus=_focus(form.focus) if form.focus else (0.0, 0.0),
        )
    except ValidationError as error:
        raise ApiError(422, _messages(error)) from None
    except PermissionDenied:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas d'écrire.")) from None
    return _entity(request, call, media)


@router.post(
    "/v2/media",
    response={200: schemas.MediaAttachment, **ERRORS},
    auth=_BodyFirst("write:media"),
)
def upload_v2(
    request: HttpRequest, file: File[UploadedFile], form: Form[NewMedia]
) -> dict[str, Any]:
    """Upload an image with its alt text (required by Parvis), for a status to come."""
    return _upload(request, file, form)


@router.post(
    "/v1/media",
    response={200: schemas.MediaAttachment, **ERRORS},
    auth=_BodyFirst("write:media"),
)
def upload_v1(
    request: HttpRequest, file: File[UploadedFile], form: Form[NewMedia]
) -> dict[str, Any]:
    """The same as ``/api/v2/media`` (deprecated by Mastodon, still used by some apps)."""
    return _upload(request, file, form)


@router.get(
    "/v1/media/{media_id}",
    response={200: schemas.MediaAttachment, **ERRORS},
    auth=OAuth("write:media"),
)
def get_media(request: HttpRequest, media_id: str) -> dict[str, Any]:
    """One of the account's attachments."""
    return _entity(request, caller(request), _own(request, media_id))


def _form(request: HttpRequest) -> dict[str, Any]:
    """The form of a PUT request: Django parses the forms of POST requests only, and
    Mastodon apps send ``PUT /api/v1/media/:id`` as a form as often as in JSON."""
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            return nested(QueryDict(request.body, encoding=request.encoding))
        if request.content_type == "multipart/form-data":
            # Fresh handlers: the request's own were spent when ninja looked for a form.
            handlers = [load_handler(path, request) for path in settings.FILE_UPLOAD_HANDLERS]
            parser = MultiPartParser(
                request.META, io.BytesIO(request.body), handlers, request.encoding
            )
            fields, _files = parser.parse()
            return nested(fields)
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        raise ApiError(413, _("La requête est trop volumineuse.")) from None
    except MultiPartParserError:
        raise ApiError(400, _("Le formulaire envoyé est illisible.")) from None
    return {}


@router.put(
    "/v1/media/{media_id}",
    response={200: schemas.MediaAttachment, **ERRORS},
    auth=_BodyFirst("write:media"),
)
def update_media(request: HttpRequest, media_id: str, data: MediaUpdate) -> dict[str, Any]:
    """Change the alt text or the focus of an attachment not published yet."""
    call = caller(request)
    account = call.account
    assert account is not None
    _may_write(call)
    if request.content_type != "application/json":
        try:
            data = MediaUpdate.model_validate(_form(request))
        except SchemaError:
            raise ApiError(
                422, _("Paramètre illisible : %(key)s") % {"key": "description"}
            ) from None
    media = _own(request, media_id)
    if media.post_id is not None:
        raise not_found()
    staff = call.staff
    assert staff is not None
    focus = _focus(data.focus) if data.focus else None
    try:
        # Both or neither: a refused focus leaves the new alt text unsaved too.
        with transaction.atomic():
            if data.description is not None:
                media = services.describe_media(staff, media, data.description)
            if focus is not None:
                media = services.focus_media(staff, media, focus)
    except ValidationError as error:
        if error.code == "published":
            raise not_found() from None
        raise ApiError(422, _messages(error)) from None
    except PermissionDenied:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas d'écrire.")) from None
    return _entity(request, call, media)
