"""What Parvis knows of the Fediverse: remote actors, follows, and its own signing keys."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from parvis.core.bulk import insert_rows
from parvis.core.memo import Expiring
from parvis.identity.models import Account, Domain


class RemoteActor(models.Model):
    """How to reach an account of another server and check what it signs.

    The account itself (name, address, follows, posts) is an identity
    ``Account``; this row holds what only federation needs, as last fetched
    from the actor's own origin.
    """

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="remote_actor", verbose_name=_("compte")
    )
    uri = models.URLField(_("identifiant"), max_length=2048, unique=True)
    domain = models.CharField(_("domaine"), max_length=253, db_index=True)
    inbox = models.URLField(max_length=2048)
    shared_inbox = models.URLField(max_length=2048, blank=True)
    # Posts addressed to this collection are for the actor's followers.
    followers_uri = models.CharField(max_length=2048, blank=True, default="")
    # Other ids of the same person: a Move to this actor is believed only when
    # the moved actor is listed here.
    also_known_as = models.JSONField(default=list, blank=True)
    key_id = models.CharField(max_length=2048, blank=True, db_index=True)
    public_key_pem = models.TextField(blank=True)
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("acteur distant")
        verbose_name_plural = _("acteurs distants")

    def __str__(self) -> str:
        return self.uri

    @property
    def delivery_inbox(self) -> str:
        """Where to deliver: the shared inbox when the server has one."""
        return self.shared_inbox or self.inbox


class ActorKey(models.Model):
    """The signing keys of a local account, or of a hosted domain's instance actor,
    created the first time they are needed.

    Generating an RSA key costs tens of milliseconds: doing it when 600,000
    accounts are provisioned would cost hours, so it happens on first use. The
    private key is stored encrypted with a key derived from PARVIS_SECRET_KEY
    (docs/federation.md).
    """

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="actor_key", null=True, blank=True
    )
    # The instance actor of a hosted domain signs the requests no account makes
    # (fetching an actor, a key, an object) for servers that require signed GETs.
    domain = models.OneToOneField(
        Domain, on_delete=models.CASCADE, related_name="instance_key", null=True, blank=True
    )
    rsa_public_pem = models.TextField()
    rsa_private_pem = models.TextField()
    ed25519_public_multibase = models.CharField(max_length=128)
    ed25519_private_pem = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("clés de signature")
        verbose_name_plural = _("clés de signature")
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=True, domain__isnull=False)
                | Q(account__isnull=False, domain__isnull=True),
                name="actor_key_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"keys of {self.account_id or self.domain_id}"


class OutboundActivity(models.Model):
    """An activity Parvis sends, stored once whatever the number of its recipients."""

    actor = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    uri = models.URLField(max_length=2048, unique=True)
    # The exact bytes that are signed and sent to every inbox.
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activité envoyée")
        verbose_name_plural = _("activités envoyées")

    def __str__(self) -> str:
        return self.uri


class RemoteHost(models.Model):
    """Delivery health of a remote server, so that a dead host does not slow the others."""

    domain = models.CharField(max_length=253, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    unavailable_since = models.DateTimeField(null=True, blank=True)
    # "cavage" or "rfc9421": the signature scheme the host accepted last.
    signature_scheme = models.CharField(max_length=16, default="cavage")

    class Meta:
        verbose_name = _("serveur distant")
        verbose_name_plural = _("serveurs distants")

    def __str__(self) -> str:
        return self.domain

    @classmethod
    def heard_from(cls, domain: str) -> None:
        """``domain`` talked to us: if it was marked unavailable, deliveries resume.

        Every inbox request asks; a host found not marked down is not asked about
        again in this process for ``HOST_CHECK_SECONDS`` (a host marked down meanwhile
        is revived that much later: its deliveries wait for their back-off anyway).
        """
        now = time.monotonic()
        checked = _hosts_checked.get(domain)
        if checked is not None and now - checked < HOST_CHECK_SECONDS:
            return
        # Read first: an UPDATE, even of no row, takes SQLite's write lock.
        down = cls.objects.filter(domain=domain, unavailable_since__isnull=False)
        if down.exists():
            down.update(unavailable_since=None, consecutive_failures=0)
        _hosts_checked[domain] = now
        _hosts_checked.move_to_end(domain)
        while len(_hosts_checked) > MAX_HOSTS_CHECKED:
            _hosts_checked.popitem(last=False)


HOST_CHECK_SECONDS = 30.0
MAX_HOSTS_CHECKED = 10_000
_hosts_checked: OrderedDict[str, float] = OrderedDict()


def forget_hosts_checked() -> None:
    """Drop this process's memory of hosts found available (tests, after changes)."""
    _hosts_checked.clear()


class Delivery(models.Model):
    """One activity to one inbox, with its state (pending, sent, given up)."""

    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        SENT = "sent", _("Envoyée")
        GIVEN_UP = "given_up", _("Abandonnée")

    activity = models.ForeignKey(
        OutboundActivity, on_delete=models.CASCADE, related_name="deliveries"
    )
    inbox = models.URLField(max_length=2048)
    host = models.ForeignKey(RemoteHost, on_delete=models.PROTECT, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("livraison")
        verbose_name_plural = _("livraisons")
        constraints = [
            models.UniqueConstraint(fields=["activity", "inbox"], name="deliver_once_per_inbox"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="delivery_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} → {self.inbox} ({self.state})"


class InboundActivity(models.Model):
    """An activity received in an inbox, stored before it is processed.

    The unique ``uri`` makes receipt idempotent: the same activity delivered
    twice (or to several inboxes) is stored and processed once.
    """

    uri = models.URLField(max_length=2048, unique=True)
    actor_uri = models.URLField(max_length=2048, db_index=True)
    kind = models.CharField(max_length=64)
    # The id of the activity's object, so that an Undo received before what it
    # undoes is found when that arrives.
    object_uri = models.CharField(max_length=2048, blank=True, default="", db_index=True)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True)
    # The worker's lease, or the time of the next try after a failure; claims count
    # as attempts, so an activity that kills its worker is given up in the end.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("activité reçue")
        verbose_name_plural = _("activités reçues")
        indexes = [
            # What the worker claims, in arrival order; small however long the history.
            models.Index(
                fields=["id"],
                condition=models.Q(processed_at__isnull=True),
                name="inbound_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.uri}"

    @classmethod
    def receive(cls, *, uri: str, actor_uri: str, kind: str, object_uri: str, body: str) -> bool:
        """Store a received activity, unless its id is already stored; True if stored.

        One ``INSERT … ON CONFLICT DO NOTHING``, committed at once: the inbox's only
        write, on every delivery (see :func:`~parvis.core.bulk.insert_rows`).
        """
        row = (uri, actor_uri, kind, object_uri, body)
        fields = ("uri", "actor_uri", "kind", "object_uri", "body")
        return bool(insert_rows(cls, fields, [row], unique=["uri"]))


class BlockedDomain(models.Model):
    """A remote domain (and its subdomains) Parvis neither listens to nor talks to."""

    domain = models.CharField(_("domaine"), max_length=253, unique=True)
    reason = models.TextField(_("motif"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("domaine bloqué")
        verbose_name_plural = _("domaines bloqués")

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        forget_blocked_domains()

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        deleted = super().delete(*args, **kwargs)
        forget_blocked_domains()
        return deleted

    @classmethod
    def covers(cls, host: str) -> bool:
        """True when ``host`` or one of its parent domains is blocked."""
        labels = host.lower().rstrip(".").split(".")
        blocked = _blocked_domains()
        return any(".".join(labels[i:]) in blocked for i in range(len(labels)))


# Every inbound request and every fetch asks whether a host is blocked: the (short)
# list is kept per process for a few seconds, and dropped at once in the process that
# changes it; other processes see a change within BLOCKLIST_SECONDS.
BLOCKLIST_SECONDS = 5.0
_blocklist = Expiring(
    lambda: frozenset(BlockedDomain.objects.values_list("domain", flat=True)), BLOCKLIST_SECONDS
)
_blocked_domains = _blocklist.get


def forget_blocked_domains() -> None:
    """Drop this process's copy of the blocked domains (after a change)."""
    _blocklist.forget()
