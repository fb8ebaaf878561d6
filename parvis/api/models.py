"""OAuth 2 applications as Mastodon registers them, and the account each grant acts as.

django-oauth-toolkit keeps grants and tokens; Parvis adds what Mastodon apps expect and
what its own model needs: an application registers several grant types and the scopes its
tokens may ask for (``POST /api/v1/apps``), and every user token acts as one account, the
one the staff member chose on the consent page, with that staff member's role on it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from parvis.identity.models import Account


class Application(AbstractApplication):
    """A client application: registered by an app through the API, or by an administrator."""

    # Mastodon apps use one registration for the user flow and for app-only tokens.
    GRANT_TYPES = (
        AbstractApplication.GRANT_AUTHORIZATION_CODE,
        AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    )

    website = models.URLField(_("site de l'application"), max_length=2048, blank=True)
    scopes = models.CharField(_("portées"), max_length=1024, default="read")

    class Meta(AbstractApplication.Meta):
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def get_allowed_schemes(self) -> list[str]:
        # Phone apps come back through their own schemes (tusky://, elk://…): each
        # application may redirect to the schemes it registered, checked at registration.
        return sorted({uri.split(":", 1)[0].lower() for uri in self.redirect_uris.split()})

    def allows_grant_type(self, *grant_types: str) -> bool:
        return bool(set(grant_types) & {*self.GRANT_TYPES, "refresh_token"})

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class GrantAccount(models.Model):
    """The account an authorization code was granted for."""

    grant = models.OneToOneField(
        "oauth2_provider.Grant", on_delete=models.CASCADE, related_name="parvis"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.grant_id} → {self.account_id}"


class TokenAccount(models.Model):
    """The account an access token acts as (none for an application's own token)."""

    token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="parvis"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.token_id} → {self.account_id}"
