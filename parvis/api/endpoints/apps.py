"""``/api/v1/apps``: applications register themselves, and check their credentials."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from oauth2_provider.generators import generate_client_secret
from pydantic import Field, field_validator

from parvis.api import schemas, scopes
from parvis.api.auth import Caller, OAuth
from parvis.api.errors import ApiError
from parvis.api.models import Application

router = Router(tags=["apps"])

OOB = "urn:ietf:wg:oauth:2.0:oob"
# Schemes that would run code or read files in a browser, never a redirect target.
FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "about", "blob"}


class NewApplication(Schema):
    client_name: str = Field(min_length=1, max_length=60)
    redirect_uris: str | list[str]
    scopes: str = "read"
    website: str | None = None

    @field_validator("client_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("client_name is blank")
        return value.strip()


def _redirect_uris(value: str | list[str]) -> list[str]:
    uris = value.split() if isinstance(value, str) else [u.strip() for u in value]
    if not uris or len(uris) > 10:
        raise ApiError(422, _("redirect_uris doit donner de 1 à 10 adresses."))
    for uri in uris:
        scheme, colon, rest = uri.partition(":")
        if uri != OOB and (
            not colon
            or not rest
            or not scheme.isascii()
            or not scheme.isalpha()
            or scheme.lower() in FORBIDDEN_SCHEMES
            or "#" in uri
            or len(uri) > 2000
        ):
            raise ApiError(422, _("Adresse de redirection refusée : %(uri)s") % {"uri": uri[:200]})
    return uris


def application_entity(app: Application, secret: str | None = None) -> dict[str, Any]:
    uris = app.redirect_uris.split()
    entity: dict[str, Any] = {
        "id": str(app.pk),
        "name": app.name,
        "website": app.website or None,
        "scopes": app.scope_list,
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": None,
    }
    if secret is not None:
        entity.update(client_id=app.client_id, client_secret=secret, client_secret_expires_at=0)
    return entity


@router.post("/v1/apps", response={200: schemas.Application, 422: schemas.Error}, auth=None)
def create_app(request: HttpRequest, data: NewApplication) -> dict[str, Any]:
    """Register an application (no token needed), as Mastodon apps do on first use."""
    wanted = data.scopes.split() or ["read"]
    unknown = [scope for scope in wanted if scope not in scopes.ALL]
    if unknown:
        raise ApiError(422, _("Portée inconnue : %(scopes)s") % {"scopes": " ".join(unknown)[:200]})
    uris = _redirect_uris(data.redirect_uris)
    secret = generate_client_secret()
    app = Application(
        name=data.client_name,
        website=(data.website or "")[:2048],
        scopes=" ".join(dict.fromkeys(wanted)),
        redirect_uris=" ".join(uris),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        client_secret=secret,
    )
    app.save()
    return application_entity(app, secret)


@router.get(
    "/v1/apps/verify_credentials",
    response={200: schemas.Application, 401: schemas.Error},
    auth=OAuth(user=False),
)
def verify_app(request: HttpRequest) -> dict[str, Any]:
    """The application a token belongs to."""
    caller: Caller = request.auth  # type: ignore[attr-defined]
    assert caller.application is not None
    return application_entity(caller.application)
