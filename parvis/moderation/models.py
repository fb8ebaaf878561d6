"""Reports about accounts and posts, waiting in the moderation queue."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from parvis.identity.models import Account
from parvis.publishing.models import Post


class Report(models.Model):
    """A report (a notice, in the Digital Services Act's words) about an account or posts."""

    class State(models.TextChoices):
        OPEN = "open", _("À traiter")
        RESOLVED = "resolved", _("Traité")

    reporter = models.ForeignKey(
        Account,
        verbose_name=_("signalé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    target = models.ForeignKey(
        Account, verbose_name=_("compte signalé"), on_delete=models.CASCADE, related_name="+"
    )
    posts = models.ManyToManyField(Post, verbose_name=_("messages"), blank=True, related_name="+")
    comment = models.TextField(_("motif"), blank=True, max_length=5000)
    # The Flag activity id for reports from other servers (one report per Flag).
    uri = models.CharField(max_length=2048, blank=True, default="")
    state = models.CharField(_("état"), max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("reçu le"), default=timezone.now)

    class Meta:
        verbose_name = _("signalement")
        verbose_name_plural = _("signalements")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["uri"], condition=~Q(uri=""), name="report_uri_unique"),
        ]

    def __str__(self) -> str:
        return f"report on {self.target}"
