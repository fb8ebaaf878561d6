"""Who calls the API: the bearer token, the staff member and the account it acts as."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import HttpBearer
from oauth2_provider.models import AccessToken

from parvis.api import scopes
from parvis.api.errors import ApiError, unauthorized
from parvis.api.models import Application
from parvis.identity.models import Account, Staff
from parvis.identity.services import Capability, capabilities


@dataclass
class Caller:
    """The token of a request (none for an anonymous reader) and what it acts as."""

    token: AccessToken | None = None
    staff: Staff | None = None
    account: Account | None = None
    scopes: frozenset[str] = frozenset()
    _capabilities: set[Capability] | None = field(default=None, repr=False)

    @property
    def application(self) -> Application | None:
        """The token's application, read when first asked: few routes need it."""
        return self.token.application if self.token is not None else None

    @property
    def capabilities(self) -> set[Capability]:
        """What the staff member's role lets them do for the account."""
        if self._capabilities is None:
            self._capabilities = (
                capabilities(self.staff, self.account) if self.staff and self.account else set()
            )
        return self._capabilities

    def may(self, scope: str) -> bool:
        return scopes.covers(self.scopes, scope)


ANONYMOUS = Caller()

# For routes readable without a token: the OpenAPI document says that no token is one way.
ANYONE = {"security": [{}, {"OAuth": []}]}


def _token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    kind, _sep, value = header.partition(" ")
    if kind.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def caller_for(raw: str) -> Caller:
    """The caller a raw bearer token stands for; 401 when it is unknown, expired or revoked."""
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    try:
        # get() orders nothing, unlike first(): ordering a row this wide costs in Python.
        token = AccessToken.objects.select_related("user", "parvis__account__domain").get(
            token_checksum=checksum
        )
    except AccessToken.DoesNotExist:
        raise unauthorized() from None
    if token.expires <= timezone.now():
        raise unauthorized()
    link = getattr(token, "parvis", None)
    if token.user_id is not None and (link is None or not token.user.is_active):
        raise unauthorized()
    return Caller(
        token=token,
        staff=token.user,
        account=link.account if link is not None else None,
        scopes=frozenset(token.scope.split()),
    )


class OAuth(HttpBearer):
    """Bearer tokens of the OAuth provider, holding ``scope``.

    ``user`` requires a token that acts as an account (not an application's own token);
    ``optional`` lets a request without a token through as :data:`ANONYMOUS` (a token that
    is there must still be valid, as with Mastodon).
    """

    def __init__(self, scope: str | None = None, *, user: bool = True, optional: bool = False):
        super().__init__()
        self.scope = scope
        self.user = user
        self.optional = optional

    def __call__(self, request: HttpRequest) -> Caller | None:
        raw = _token(request)
        if raw is None:
            if self.optional:
                return ANONYMOUS
            raise unauthorized()
        return self.authenticate(request, raw)

    def authenticate(self, request: HttpRequest, token: str) -> Caller:
        caller = caller_for(token)
        if self.user and caller.account is None:
            raise ApiError(422, _("Ce jeton n'agit pour aucun compte"))
        if self.scope is not None and not caller.may(self.scope):
            raise ApiError(403, _("Cette action sort des portées autorisées"))
        return caller
