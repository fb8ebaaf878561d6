"""OAuth 2 applications as Mastodon registers them, and the account each grant acts as.

django-oauth-toolkit keeps grants and tokens; Parvis adds what Mastodon apps expect and
what its own model needs: an application registers several grant types and the scopes its
tokens may ask for (``POST /api/v1/apps``), and every user token acts as one account, the
one the staff member chose on the consent page, with that staff member's role on it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from parvis.identity.models import Account
from parvis.interactions.models import Follow
from parvis.publishing.models import Post


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


# --- lists, filters and markers of an account ------------------------------------------
#
# These belong to the hosted account, not to the staff member holding the token: every
# member of the account's team sees the same lists, filters and reading positions, as
# they see the same notifications.


class List(models.Model):
    """A list of accounts the account follows, read as a timeline of its own."""

    class RepliesPolicy(models.TextChoices):
        FOLLOWED = "followed", _("Réponses à tout compte suivi")
        LIST = "list", _("Réponses aux membres de la liste")
        NONE = "none", _("Aucune réponse")

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("titre"), max_length=256)
    replies_policy = models.CharField(
        _("réponses montrées"),
        max_length=16,
        choices=RepliesPolicy.choices,
        default=RepliesPolicy.LIST,
    )
    # Mastodon's exclusive lists: their members' statuses leave the home timeline.
    exclusive = models.BooleanField(_("exclusive"), default=False)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        verbose_name = _("liste")
        verbose_name_plural = _("listes")

    def __str__(self) -> str:
        return self.title


class ListMember(models.Model):
    """An account in a list: one the list's owner follows (or asked to follow), or the
    owner itself, as Mastodon allows."""

    list = models.ForeignKey(
        List, verbose_name=_("liste"), on_delete=models.CASCADE, related_name="members"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="+"
    )
    # The follow that lets the account in (none for the owner itself): when it ends
    # (unfollow, block, refused request) the account leaves every list of the follower,
    # as on Mastodon.
    follow = models.ForeignKey(
        Follow,
        verbose_name=_("abonnement"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("membre de liste")
        verbose_name_plural = _("membres de liste")
        constraints = [
            models.UniqueConstraint(fields=["list", "account"], name="list_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.list_id} ∋ {self.account_id}"


class Filter(models.Model):
    """A filter (Mastodon's v2 filters): keywords and statuses to warn about or hide."""

    class Context(models.TextChoices):
        HOME = "home", _("Accueil et listes")
        NOTIFICATIONS = "notifications", _("Notifications")
        PUBLIC = "public", _("Fils publics")
        THREAD = "thread", _("Conversations")
        ACCOUNT = "account", _("Profils")

    class Action(models.TextChoices):
        WARN = "warn", _("Avertir")
        HIDE = "hide", _("Masquer")
        BLUR = "blur", _("Flouter les médias")

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("titre"), max_length=256)
    # A list of Context values (at least one), in the order the client gave them.
    context = models.JSONField(_("contextes"), default=list)
    filter_action = models.CharField(
        _("action"), max_length=8, choices=Action.choices, default=Action.WARN
    )
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)

    class Meta:
        verbose_name = _("filtre")
        verbose_name_plural = _("filtres")

    def __str__(self) -> str:
        return self.title


class FilterKeyword(models.Model):
    """A keyword of a filter, matched in the text of statuses."""

    filter = models.ForeignKey(
        Filter, verbose_name=_("filtre"), on_delete=models.CASCADE, related_name="keywords"
    )
    keyword = models.CharField(_("mot-clé"), max_length=512)
    whole_word = models.BooleanField(_("mot entier"), default=True)

    class Meta:
        verbose_name = _("mot-clé de filtre")
        verbose_name_plural = _("mots-clés de filtre")

    def __str__(self) -> str:
        return self.keyword


class FilterStatus(models.Model):
    """A status a filter names by its id."""

    filter = models.ForeignKey(
        Filter, verbose_name=_("filtre"), on_delete=models.CASCADE, related_name="statuses"
    )
    post = models.ForeignKey(
        Post, verbose_name=_("message"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("message filtré")
        verbose_name_plural = _("messages filtrés")
        constraints = [
            models.UniqueConstraint(fields=["filter", "post"], name="filter_status_once"),
        ]

    def __str__(self) -> str:
        return f"{self.filter_id} ∋ {self.post_id}"


class Marker(models.Model):
    """How far the account's team has read a timeline (Mastodon's markers)."""

    class Timeline(models.TextChoices):
        HOME = "home", _("Accueil")
        NOTIFICATIONS = "notifications", _("Notifications")

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="+"
    )
    timeline = models.CharField(_("fil"), max_length=16, choices=Timeline.choices)
    last_read_id = models.BigIntegerField(_("dernier élément lu"), default=0)
    # Raised by every update, in the database (F() + 1), so that two concurrent updates
    # give two versions; clients compare it to detect a position saved elsewhere.
    version = models.IntegerField(_("version"), default=0)
    updated_at = models.DateTimeField(_("mis à jour le"), default=timezone.now)

    class Meta:
        verbose_name = _("marque de lecture")
        verbose_name_plural = _("marques de lecture")
        constraints = [
            models.UniqueConstraint(fields=["account", "timeline"], name="marker_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.timeline} {self.last_read_id}"
