"""The account's own profile: ``PATCH /api/v1/accounts/update_credentials``.

It changes the public profile of the token's account. An official account's profile
speaks for the institution: only the roles that publish for the account may change it (an
editor's token gets 403).

Known differences from Mastodon:

* ``bot`` is refused when true (an official account is never a bot); ``source[privacy]``,
  ``source[sensitive]``, ``hide_collections``, ``indexable`` and ``attribution_domains``
  are read and not kept (the answer shows what applies). Unlocking an account does not
  approve its pending follow requests (Mastodon does): they stay in
  ``/api/v1/follow_requests``.
* A profile field's name and value are kept as written and shown as text (HTML-escaped):
  a URL in a value is not made a link, and no link is verified (``verified_at`` is null).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    FieldDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.db import transaction
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ValidationError as SchemaError

from parvis.api import schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.common import caller, validation_failed
from parvis.api.entities import ACCOUNT_RELATED, Renderer
from parvis.api.errors import ApiError
from parvis.api.params import MastodonParser
from parvis.identity.models import Account
from parvis.identity.services import Capability, profile_changed
from parvis.publishing.media import ProcessedImage, process_image
from parvis.publishing.services import LANGUAGES, ensure_can_speak

router = Router(tags=["profile"])
ERRORS = schemas.ERRORS

# Mastodon's limits on profile fields; the account's own limits come from its model.
MAX_FIELDS = 4
FIELD_CHARS = 255
DISPLAY_NAME_CHARS: int = Account._meta.get_field("display_name").max_length  # type: ignore[assignment]
BIO_CHARS: int = Account._meta.get_field("bio").max_length  # type: ignore[assignment]
IMAGE_FIELDS = ("avatar", "header")


# --- schemas ---------------------------------------------------------------------------


class ProfileFieldInput(Schema):
    name: str = ""
    value: str = ""


class SourceInput(Schema):
    language: str | None = None
    # Read and not kept: Parvis has no default visibility or sensitivity per account.
    privacy: str | None = None
    sensitive: bool | None = None


class CredentialsUpdate(Schema):
    """What ``update_credentials`` reads (``avatar`` and ``header`` are files of the form)."""

    display_name: str | None = None
    note: str | None = None
    locked: bool | None = None
    discoverable: bool | None = None
    bot: bool | None = None
    # Rails' nested form: ``fields_attributes[0][name]=…`` (a dict keyed "0", "1"…), or
    # a list in JSON.
    fields_attributes: dict[str, ProfileFieldInput] | list[ProfileFieldInput] | None = None
    source: SourceInput | None = None
    # Read and not kept (Mastodon's settings Parvis has no use for).
    hide_collections: bool | None = None
    indexable: bool | None = None
    attribution_domains: list[str] | None = None


# --- reading the request -----------------------------------------------------------------


class _FormFirst(OAuth):
    """The token, then the form: Django reads the forms (and files) of POST requests only,
    and Mastodon apps send ``PATCH update_credentials`` as a multipart form (the avatar
    and the header are files). The form is read here, before the view; a body Django
    refuses (too big, too many fields, broken multipart) ends with Mastodon's JSON error."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        call = super().__call__(request)
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            method = request.method
            request.method = "POST"
            try:
                request._load_post_and_files()  # type: ignore[attr-defined]
            except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
                raise ApiError(413, _("La requête est trop volumineuse.")) from None
            except MultiPartParserError:
                raise ApiError(400, _("Le formulaire envoyé est illisible.")) from None
            finally:
                request.method = method
        return call


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` written in place (the OpenAPI document has no
    ``$defs`` of its own to point at)."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return walk(definitions[reference.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def _form_schema() -> dict[str, Any]:
    """The multipart form of ``update_credentials``, in Rails' bracket notation."""
    properties: dict[str, Any] = {
        "display_name": {"type": "string"},
        "note": {"type": "string"},
        "locked": {"type": "boolean"},
        "discoverable": {"type": "boolean"},
        "bot": {"type": "boolean"},
        "avatar": {"type": "string", "format": "binary"},
        "header": {"type": "string", "format": "binary"},
        "source[language]": {"type": "string"},
        "source[privacy]": {"type": "string"},
        "source[sensitive]": {"type": "boolean"},
    }
    for index in range(MAX_FIELDS):
        for part in ("name", "value"):
            properties[f"fields_attributes[{index}][{part}]"] = {"type": "string"}
    return {"type": "object", "properties": properties}


_CREDENTIALS_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": _inline(CredentialsUpdate.model_json_schema())},
            "multipart/form-data": {"schema": _form_schema()},
        }
    }
}


def _credentials(request: HttpRequest) -> CredentialsUpdate:
    """The body of the request, read as JSON or as a (nested) form; 4xx when unreadable."""
    try:
        data = MastodonParser().parse_body(request)
    except RequestDataTooBig:
        raise ApiError(413, _("La requête est trop volumineuse.")) from None
    try:
        return CredentialsUpdate.model_validate(data)
    except SchemaError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or '?'} : {problem['msg']}"
            for problem in error.errors()[:10]
        ]
        raise validation_failed(problems) from None


# --- checking the changes ----------------------------------------------------------------


def _text(value: str, label: str, limit: int, problems: list[str]) -> str:
    """``value`` trimmed; its problems (too long, a NUL character) added to ``problems``."""
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        problems.append(
            _("%(label)s compte %(length)d caractères ; la limite est %(limit)d.")
            % {"label": label, "length": len(value), "limit": limit}
        )
    if "\x00" in value:
        problems.append(_("%(label)s contient un caractère nul.") % {"label": label})
    return value


def _fields(
    given: dict[str, ProfileFieldInput] | list[ProfileFieldInput], problems: list[str]
) -> list[dict[str, str]]:
    """The profile fields as stored: pairs left blank are dropped, as on Mastodon."""
    entries = list(given.values()) if isinstance(given, dict) else list(given)
    fields: list[dict[str, str]] = []
    for entry in entries:
        name = _text(entry.name, _("Le libellé d'un champ"), FIELD_CHARS, problems)
        value = _text(entry.value, _("La valeur d'un champ"), FIELD_CHARS, problems)
        if not name and not value:
            continue
        if not name:
            problems.append(
                _("Le champ de valeur « %(value)s » n'a pas de libellé.") % {"value": value[:40]}
            )
        fields.append({"name": name, "value": value})
    if len(fields) > MAX_FIELDS:
        problems.append(
            _("Le profil compte %(count)d champs ; la limite est %(max)d.")
            % {"count": len(fields), "max": MAX_FIELDS}
        )
    return fields


def _changes(data: CredentialsUpdate) -> dict[str, Any]:
    """The model fields to change and their new values; 422 naming every problem."""
    problems: list[str] = []
    changes: dict[str, Any] = {}
    if data.bot:
        problems.append(_("Un compte officiel n'est pas un robot : bot ne peut valoir que false."))
    if data.display_name is not None:
        name = _text(data.display_name, _("Le nom affiché"), DISPLAY_NAME_CHARS, problems)
        if not name:
            problems.append(_("Le nom affiché est vide."))
        changes["display_name"] = name
    if data.note is not None:
        changes["bio"] = _text(data.note, _("La présentation"), BIO_CHARS, problems)
    if data.locked is not None:
        changes["locked"] = data.locked
    if data.discoverable is not None:
        changes["discoverable"] = data.discoverable
    if data.fields_attributes is not None:
        changes["fields"] = _fields(data.fields_attributes, problems)
    if data.source is not None and data.source.language is not None:
        language = data.source.language.strip()
        if language not in LANGUAGES:
            # The account's language is the default of its statuses: it must be one they take.
            problems.append(_("Langue inconnue : « %(value)s ».") % {"value": language[:20]})
        changes["language"] = language
    if problems:
        raise validation_failed(problems)
    return changes


def _images(request: HttpRequest) -> dict[str, ProcessedImage]:
    """The avatar and header sent, checked and re-encoded as post images are; 422 else."""
    images: dict[str, ProcessedImage] = {}
    problems: list[str] = []
    limit = settings.PARVIS_MAX_IMAGE_BYTES
    for name in IMAGE_FIELDS:
        upload = request.FILES.get(name)
        if upload is None:
            continue
        filename = (upload.name or name)[:100]
        if upload.size is not None and upload.size > limit:
            # Refused before it is read into memory (Django keeps large uploads on disk).
            megabytes = 1024 * 1024
            problems.append(
                _("L'image « %(name)s » pèse %(size)d Mo ; la limite est %(max)d Mo.")
                % {
                    "name": filename,
                    "size": -(-upload.size // megabytes),
                    "max": limit // megabytes,
                }
            )
            continue
        try:
            images[name] = process_image(upload.read(limit + 1), filename)
        except ValidationError as error:
            problems.extend(error.messages)
    if problems:
        raise validation_failed(problems)
    return images


def _model_problems(error: ValidationError) -> ApiError:
    """What the model refused, each message after the name of its field."""
    problems = []
    for key, messages in error.message_dict.items():
        try:
            label = str(Account._meta.get_field(key).verbose_name)
        except FieldDoesNotExist:  # an error of the whole account names no field
            label = ""
        problems.extend(f"{label} : {message}" if label else message for message in messages)
    return validation_failed(problems)


# --- writing the profile -----------------------------------------------------------------


def _delete_files(names: list[tuple[Callable[[str], None], str]]) -> None:
    for delete, name in names:
        delete(name)


def _save_profile(
    account_id: int, changes: dict[str, Any], images: dict[str, ProcessedImage]
) -> Account:
    """Write the profile and tell its followers' servers, in one transaction.

    Every check that can refuse runs before anything is written; the images written by
    a request that fails are removed, and the images replaced are removed once the
    change is committed.
    """
    written: list[tuple[Callable[[str], None], str]] = []
    replaced: list[tuple[Callable[[str], None], str]] = []
    try:
        with transaction.atomic():
            account = (
                Account.objects.select_for_update(of=("self",))
                .select_related(*ACCOUNT_RELATED)
                .get(pk=account_id)
            )
            for name, value in changes.items():
                setattr(account, name, value)
            try:
                account.full_clean(exclude=list(IMAGE_FIELDS))
            except ValidationError as error:
                raise _model_problems(error) from None
            for name, image in images.items():
                file = getattr(account, name)
                if file:
                    replaced.append((file.storage.delete, file.name))
                file.save(image.content.name, image.content, save=False)
                written.append((file.storage.delete, file.name))
            account.save()
            # The service of identity that federates the profile (Update of the actor).
            profile_changed(account)
            transaction.on_commit(lambda: _delete_files(replaced))
    except BaseException:
        _delete_files(written)
        raise
    return account


@router.patch(
    "/v1/accounts/update_credentials",
    response={200: schemas.Account, 413: schemas.Error, **ERRORS},
    auth=_FormFirst("write:accounts"),
    openapi_extra=_CREDENTIALS_BODY,
)
def update_credentials(request: HttpRequest) -> dict[str, Any]:
    """Change the public profile of the token's account (a role that publishes for it is
    needed); the answer is the account with its ``source``, as ``verify_credentials``."""
    call = caller(request)
    me = call.account
    assert me is not None  # _FormFirst lets only tokens acting as an account through
    if Capability.PUBLISH not in call.capabilities:
        raise ApiError(
            403, _("Votre rôle sur ce compte ne permet pas de modifier son profil public.")
        )
    changes = _changes(_credentials(request))
    images = _images(request)
    try:
        ensure_can_speak(me)
    except ValidationError as error:
        raise validation_failed(error.messages) from None
    account = _save_profile(me.pk, changes, images) if changes or images else me
    return Renderer(request, call).account(account, source=True)
