"""OAuth 2 as Mastodon apps speak it, on django-oauth-toolkit (decision 0009).

The toolkit and oauthlib do the protocol (codes, PKCE, client authentication, token
issue and revocation). Parvis adds the account: the consent page (:mod:`parvis.api.views.
oauth`) passes the account the staff member chose as a credential, the validator stores
it beside the authorization code, and copies it onto the access token issued for that
code, and onto tokens issued from its refresh token.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator

from parvis.api.models import GrantAccount, TokenAccount

# The credential that carries the chosen account from the consent page to the validator.
ACCOUNT_CREDENTIAL = "parvis_account_id"


class Validator(OAuth2Validator):
    """Binds each authorization code, then each token, to the account chosen at consent."""

    def _create_authorization_code(self, request: Any, code: dict[str, str], expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        GrantAccount.objects.create(grant=grant, account_id=getattr(request, ACCOUNT_CREDENTIAL))
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        account = GrantAccount.objects.filter(grant__code=code, grant__application=client)
        setattr(request, ACCOUNT_CREDENTIAL, account.values_list("account_id", flat=True).first())
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        previous = request.refresh_token_instance.access_token_id
        account = TokenAccount.objects.filter(token_id=previous)
        setattr(request, ACCOUNT_CREDENTIAL, account.values_list("account_id", flat=True).first())
        return True

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        account_id = getattr(request, ACCOUNT_CREDENTIAL, None)
        if account_id is not None and request.user is not None:
            TokenAccount.objects.create(token=access_token, account_id=account_id)
        return access_token


class FormOrJSONBackend(OAuthLibCore):
    """Reads token and revocation requests sent as a form, or as JSON as Mastodon allows."""

    def extract_body(self, request: HttpRequest) -> list[tuple[str, str]]:
        if request.content_type != "application/json":
            return super().extract_body(request)
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return []
        if not isinstance(data, dict):
            return []
        # Only text values: anything else is a malformed parameter, left out.
        return [(str(k), v) for k, v in data.items() if isinstance(v, str)]
