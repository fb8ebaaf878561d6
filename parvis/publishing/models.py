"""What accounts say: drafts, posts, their edits and their images."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from parvis.core.ids import time_id
from parvis.identity.models import Account, Mandate


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    UNLISTED = "unlisted", _("Non listé")
    FOLLOWERS = "followers", _("Abonnés seulement")
    # Only posts from other servers: addressed to the mentioned accounts alone.
    DIRECT = "direct", _("Mention privée")


# What a hosted account may choose when it publishes.
LOCAL_VISIBILITIES = (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS)


class Hashtag(models.Model):
    name = models.CharField(_("nom"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("mot-clé")
        verbose_name_plural = _("mots-clés")

    def __str__(self) -> str:
        return f"#{self.name}"


class PostQuerySet(models.QuerySet["Post"]):
    def live(self) -> PostQuerySet:
        """Posts not deleted."""
        return self.filter(deleted_at__isnull=True)

    def by_uri(self, uri: str) -> PostQuerySet:
        """Received posts with object id ``uri``, through the partial unique index on uri
        (SQLite uses a partial index only when the query repeats its condition)."""
        return self.filter(uri=uri).exclude(uri="")

    def local(self) -> PostQuerySet:
        """Posts of hosted accounts."""
        return self.filter(uri="")

    def public(self) -> PostQuerySet:
        """Posts of hosted accounts any visitor may see listed on timelines and pages."""
        return (
            self.live()
            .local()
            .filter(visibility=Visibility.PUBLIC, account__suspended_at__isnull=True)
        )

    def replies_shown(self) -> PostQuerySet:
        """Replies anyone may read under a post: public or unlisted, author not suspended."""
        return self.live().filter(
            visibility__in=(Visibility.PUBLIC, Visibility.UNLISTED),
            account__suspended_at__isnull=True,
        )


class Post(models.Model):
    """A published status. Drafts and scheduled posts are :class:`Draft` until they go out.

    Posts of other servers that concern hosted accounts (replies, mentions, posts
    of followed accounts) are posts too, with the ``uri`` of their object; their
    ``content_html`` is the sanitised HTML their server sent.
    """

    id = models.BigIntegerField(primary_key=True, default=time_id, editable=False)
    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.PROTECT, related_name="posts"
    )
    mandate = models.ForeignKey(
        Mandate,
        verbose_name=_("mandat"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="posts",
        help_text=_("Le mandat sous lequel le message a été publié."),
    )
    # Internal only: never rendered on public pages or federated.
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("publié par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.TextField(_("texte"))
    content_html = models.TextField(editable=False)
    spoiler_text = models.CharField(_("avertissement de contenu"), max_length=255, blank=True)
    sensitive = models.BooleanField(_("contenu sensible"), default=False)
    language = models.CharField(_("langue"), max_length=8, default="fr")
    visibility = models.CharField(
        _("visibilité"), max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    hashtags = models.ManyToManyField(Hashtag, related_name="posts", blank=True)
    in_reply_to = models.ForeignKey(
        "self",
        verbose_name=_("en réponse à"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
    )
    # The parent's id when it is not known here (a reply in a remote thread).
    in_reply_to_uri = models.CharField(max_length=2048, blank=True, default="")
    mentions = models.ManyToManyField(Account, related_name="mentioned_in", blank=True)
    # Posts of other servers: the object id and the page it is shown on.
    uri = models.CharField(max_length=2048, blank=True, default="")
    url = models.URLField(max_length=2048, blank=True, default="")
    published_at = models.DateTimeField(_("publié le"), default=timezone.now)
    edited_at = models.DateTimeField(_("modifié le"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("supprimé le"), null=True, blank=True)
    # Pinned to the top of its account's profile (Mastodon's "featured" posts).
    pinned_at = models.DateTimeField(_("épinglé le"), null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "-id"], name="post_account_timeline"),
            models.Index(
                fields=["-id"],
                condition=Q(visibility="public", deleted_at__isnull=True),
                name="post_public_timeline",
            ),
            # What changed lately (the streaming API asks every half second): only the
            # few edited or deleted posts are in these.
            models.Index(
                fields=["edited_at"], condition=Q(edited_at__isnull=False), name="post_edited"
            ),
            models.Index(
                fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="post_deleted"
            ),
            # An account's count of posts and its latest one, read from the index alone
            # (every Account entity shows them).
            models.Index(
                fields=["account", "deleted_at", "published_at"], name="post_account_live"
            ),
            models.Index(
                fields=["account", "-pinned_at"],
                condition=Q(pinned_at__isnull=False),
                name="post_pinned",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["uri"], condition=~Q(uri=""), name="post_uri_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account.acct} #{self.id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def last_change_at(self):
        return self.deleted_at or self.edited_at or self.published_at


class PostStats(models.Model):
    """A post's counts (Mastodon's ``status_stats``), kept by database triggers.

    Triggers on posts and reactions keep them in the transaction of every change,
    whatever made it (a service, a cascade, a bulk insert), so no code path can forget
    them; a post nobody answered or reacted to has no row (its counts are 0).
    Separate from :class:`Post` so that saving a post read earlier never writes back
    counts that changed since. docs/decisions/0011-stored-counts.md.
    """

    post = models.OneToOneField(
        Post, primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    replies_count = models.IntegerField(default=0)
    reblogs_count = models.IntegerField(default=0)
    favourites_count = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("compteurs d'un message")
        verbose_name_plural = _("compteurs des messages")

    def __str__(self) -> str:
        return f"{self.post_id}: {self.replies_count}/{self.reblogs_count}/{self.favourites_count}"


class PostEdit(models.Model):
    """One version of an edited post; the first row of a post is its original text."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="edits")
    text = models.TextField()
    content_html = models.TextField()
    spoiler_text = models.CharField(max_length=255, blank=True)
    sensitive = models.BooleanField(default=False)
    language = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("version")
        verbose_name_plural = _("versions")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.post_id} @ {self.created_at.isoformat()}"


class Draft(models.Model):
    """A post being written, awaiting approval, or scheduled."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        PENDING = "pending", _("En attente de validation")
        SCHEDULED = "scheduled", _("Programmé")
        PUBLISHED = "published", _("Publié")

    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="drafts"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="drafts",
    )
    text = models.TextField(_("texte"), blank=True)
    spoiler_text = models.CharField(_("avertissement de contenu"), max_length=255, blank=True)
    in_reply_to = models.ForeignKey(
        Post,
        verbose_name=_("en réponse à"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sensitive = models.BooleanField(_("contenu sensible"), default=False)
    language = models.CharField(_("langue"), max_length=8, default="fr")
    visibility = models.CharField(
        _("visibilité"), max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    state = models.CharField(_("état"), max_length=16, choices=State.choices, default=State.DRAFT)
    scheduled_at = models.DateTimeField(_("publication programmée le"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("validé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    review_note = models.TextField(_("note de relecture"), blank=True)
    post = models.OneToOneField(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="draft"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("modifié le"), default=timezone.now)

    class Meta:
        verbose_name = _("brouillon")
        verbose_name_plural = _("brouillons")
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="scheduled") | Q(scheduled_at__isnull=False),
                name="draft_scheduled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account.acct} · {self.get_state_display()}"


class Poll(models.Model):
    """The poll of a post of another server (an ActivityPub ``Question``), with its options
    and counts as that server last described them. Parvis shows polls; it does not vote
    in them nor hold its own."""

    post = models.OneToOneField(
        Post, primary_key=True, on_delete=models.CASCADE, related_name="poll"
    )
    multiple = models.BooleanField(_("choix multiple"), default=False)
    expires_at = models.DateTimeField(_("se termine le"), null=True, blank=True)
    # Known for polls of several choices only (each voter may count several times).
    voters_count = models.PositiveIntegerField(null=True, blank=True)
    # [{"title": "…", "votes_count": 3}, …], in the order of the question.
    options = models.JSONField(default=list)

    class Meta:
        verbose_name = _("sondage")
        verbose_name_plural = _("sondages")

    def __str__(self) -> str:
        return f"{self.post_id} ({len(self.options)})"


class MediaAttachment(models.Model):
    """An image uploaded for a post, re-encoded and stripped of its metadata."""

    id = models.BigIntegerField(primary_key=True, default=time_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="media")
    draft = models.ForeignKey(
        Draft, on_delete=models.SET_NULL, null=True, blank=True, related_name="media"
    )
    post = models.ForeignKey(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="media"
    )
    file = models.ImageField(upload_to="media/%Y/%m/", width_field="width", height_field="height")
    thumbnail = models.ImageField(upload_to="media/%Y/%m/thumbs/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=32)
    description = models.TextField(_("texte alternatif"), max_length=1500)
    # The point a cropped preview keeps in view, from -1 (left, bottom) to 1 (right, top),
    # as Mastodon's focus.
    focus_x = models.FloatField(default=0.0)
    focus_y = models.FloatField(default=0.0)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("image")
        verbose_name_plural = _("images")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(description=""), name="media_alt_text_required"),
            models.CheckConstraint(
                condition=Q(focus_x__gte=-1, focus_x__lte=1, focus_y__gte=-1, focus_y__lte=1),
                name="media_focus_in_frame",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file.name} ({self.description[:40]})"
