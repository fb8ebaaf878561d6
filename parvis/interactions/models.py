"""What accounts do to each other and to posts: follow, block, like, boost, and the
notifications these bring to the team of a hosted account.

Either side may be an account of another server: the same rows serve the
ActivityPub inbox, the public pages and the client API.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from parvis.core.ids import time_id
from parvis.identity.models import Account
from parvis.publishing.models import Post


class Follow(models.Model):
    """``follower`` receives what ``target`` publishes (once the follow is accepted)."""

    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        ACCEPTED = "accepted", _("Accepté")

    follower = models.ForeignKey(
        Account, verbose_name=_("abonné"), on_delete=models.CASCADE, related_name="following"
    )
    target = models.ForeignKey(
        Account, verbose_name=_("compte suivi"), on_delete=models.CASCADE, related_name="followers"
    )
    state = models.CharField(_("état"), max_length=16, choices=State.choices, default=State.PENDING)
    # The id of the Follow activity (the remote one, or the one Parvis sent),
    # echoed in Accept and Undo.
    uri = models.CharField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")
        constraints = [
            models.UniqueConstraint(fields=["follower", "target"], name="follow_pair_once"),
        ]
        indexes = [
            models.Index(
                fields=["target"], condition=Q(state="accepted"), name="follow_accepted_of_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.follower} → {self.target}"


class Block(models.Model):
    """``account`` blocks ``target``: no follow either way, nothing delivered or shown."""

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="blocks"
    )
    target = models.ForeignKey(
        Account, verbose_name=_("compte bloqué"), on_delete=models.CASCADE, related_name="+"
    )
    uri = models.CharField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("blocage")
        verbose_name_plural = _("blocages")
        constraints = [
            models.UniqueConstraint(fields=["account", "target"], name="block_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} ⊘ {self.target}"


class Reaction(models.Model):
    """A like (favourite) or a boost (reblog) of a post by an account."""

    class Kind(models.TextChoices):
        FAVOURITE = "favourite", _("J'aime")
        BOOST = "boost", _("Partage")

    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="reactions"
    )
    post = models.ForeignKey(
        Post, verbose_name=_("message"), on_delete=models.CASCADE, related_name="reactions"
    )
    # The Like or Announce activity id, so that its Undo finds it.
    uri = models.CharField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    # A boost is an entry of timelines, between posts: it is ordered and paginated by this
    # time-sortable id, from the same sequence as post ids (Mastodon's reblog statuses).
    timeline_id = models.BigIntegerField(default=time_id, unique=True, editable=False)

    class Meta:
        verbose_name = _("réaction")
        verbose_name_plural = _("réactions")
        constraints = [
            models.UniqueConstraint(fields=["kind", "account", "post"], name="react_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.kind} {self.post_id}"


class Notification(models.Model):
    """Something the team of a hosted account should know about."""

    class Kind(models.TextChoices):
        FOLLOW = "follow", _("Nouvel abonné")
        FOLLOW_REQUEST = "follow_request", _("Demande d'abonnement")
        MENTION = "mention", _("Mention ou réponse")
        FAVOURITE = "favourite", _("J'aime")
        BOOST = "reblog", _("Partage")
        MOVE = "move", _("Déménagement d'un compte suivi")

    recipient = models.ForeignKey(
        Account, verbose_name=_("destinataire"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("type"), max_length=32, choices=Kind.choices)
    from_account = models.ForeignKey(
        Account, verbose_name=_("de"), on_delete=models.CASCADE, related_name="+"
    )
    post = models.ForeignKey(
        Post,
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    read_at = models.DateTimeField(_("lue le"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_inbox"),
            # notify() looks for the same event before recording it again.
            models.Index(fields=["from_account", "recipient", "kind"], name="notification_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient}"


class Bookmark(models.Model):
    """``account`` keeps ``post`` to read again; nobody else ever learns of it."""

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="bookmarks"
    )
    post = models.ForeignKey(
        Post, verbose_name=_("message"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("signet")
        verbose_name_plural = _("signets")
        # The unique index (account first) also serves the account's list, by id.
        constraints = [
            models.UniqueConstraint(fields=["account", "post"], name="bookmark_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} ⚑ {self.post_id}"


class MuteQuerySet(models.QuerySet["Mute"]):
    def active(self) -> MuteQuerySet:
        """Mutes in force now: expired ones are kept until removed, but mute nothing."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


class Mute(models.Model):
    """``account`` no longer wants to see ``target`` (and, with ``notifications``, hear of
    it), without ``target`` knowing: unlike a block, nothing is federated or ended."""

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="mutes"
    )
    target = models.ForeignKey(
        Account, verbose_name=_("compte masqué"), on_delete=models.CASCADE, related_name="+"
    )
    notifications = models.BooleanField(_("notifications masquées aussi"), default=True)
    # None: until it is lifted.
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    objects = MuteQuerySet.as_manager()

    class Meta:
        verbose_name = _("masquage")
        verbose_name_plural = _("masquages")
        constraints = [
            models.UniqueConstraint(fields=["account", "target"], name="mute_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} ∅ {self.target}"


class AccountDomainBlock(models.Model):
    """``account`` hides the accounts of another server (``domain``, an exact host name)."""

    account = models.ForeignKey(
        Account,
        verbose_name=_("compte"),
        on_delete=models.CASCADE,
        related_name="domain_blocks",
    )
    # Lower-case ASCII (IDNA), as Account.remote_host is written: compared with "=".
    domain = models.CharField(_("domaine"), max_length=253)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("domaine masqué par un compte")
        verbose_name_plural = _("domaines masqués par les comptes")
        constraints = [
            models.UniqueConstraint(fields=["account", "domain"], name="account_domain_block_once"),
            models.CheckConstraint(
                condition=Q(domain=Lower("domain")), name="account_domain_block_lower_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} ⊘ {self.domain}"


class ConversationState(models.Model):
    """How far ``account`` read, or cleared, the private thread that starts at ``root_post``,
    and whether it muted the thread (any thread, private or not).

    Ids rather than flags: a private message arriving later in the thread is past both
    marks, so the conversation is unread again, and comes back if it was removed, as with
    Mastodon, without the inbox having to touch this row.
    """

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="+"
    )
    root_post = models.ForeignKey(
        Post, verbose_name=_("premier message"), on_delete=models.CASCADE, related_name="+"
    )
    # The id of the latest message read, and of the latest one when the thread was removed.
    read_up_to = models.BigIntegerField(_("lu jusqu'à"), null=True, blank=True)
    hidden_up_to = models.BigIntegerField(_("retiré jusqu'à"), null=True, blank=True)
    # No notifications from the thread (Mastodon's conversation mute).
    muted = models.BooleanField(_("masquée"), default=False)

    class Meta:
        verbose_name = _("état d'une conversation")
        verbose_name_plural = _("états des conversations")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "root_post"], name="conversation_state_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} … {self.root_post_id}"


class HomeEntry(models.Model):
    """A post or a boost in a hosted account's home timeline, written when it happens.

    Home is read a page at a time from these rows, newest first: a query over every
    post of every followed account cost a scan of them all on each page. The rules of
    who may see what are still applied when the page is read
    (:mod:`parvis.interactions.home`), so a row left behind by an unfollow, a mute or a
    deletion is never shown.
    """

    owner = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The post's id, or the boost's ``timeline_id``: the order and the pagination key.
    position = models.BigIntegerField()
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    boost = models.ForeignKey(
        Reaction, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Whose action brought the entry: the author of a post, the booster of a boost.
    via = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "position"], name="home_entry_position"),
        ]
        indexes = [models.Index(fields=["owner", "via"], name="home_entry_via")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.position}"
