"""Publishing actions: one function per action, each owning its transaction.

Editors write drafts and submit them; publishers publish, schedule, approve,
edit and delete. Every check that can refuse an action runs before anything is
written, and refusals name what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.core import events
from parvis.core import text as text_format
from parvis.core.urls import absolute
from parvis.identity.models import Account, Domain, Staff
from parvis.identity.services import Capability, current_mandate, require, touch
from parvis.interactions import home
from parvis.publishing.media import process_image
from parvis.publishing.models import (
    LOCAL_VISIBILITIES,
    Draft,
    Hashtag,
    MediaAttachment,
    Post,
    PostEdit,
    Visibility,
)
from parvis.publishing.tasks import publish_scheduled

MIN_SCHEDULE_DELAY = timedelta(minutes=5)
LANGUAGES = {code for code, _name in settings.LANGUAGES} | {
    "br",
    "ca",
    "co",
    "de",
    "es",
    "eu",
    "it",
    "nl",
    "oc",
    "pt",
    "ar",
    "gsw",
}


@dataclass
class Content:
    """What an author writes: the same fields for a draft, a post and an edit."""

    text: str
    spoiler_text: str = ""
    sensitive: bool = False
    language: str = "fr"
    visibility: str = Visibility.PUBLIC
    # The post this one answers (hosted here or received from another server).
    in_reply_to: Post | None = None

    @classmethod
    def of(cls, draft: Draft) -> Content:
        """The content a draft holds."""
        return cls(
            draft.text,
            draft.spoiler_text,
            draft.sensitive,
            draft.language,
            draft.visibility,
            draft.in_reply_to,
        )


def ensure_can_speak(account: Account) -> None:
    """Refuse any publishing change for a frozen or suspended account."""
    if account.frozen_at is not None:
        raise ValidationError(
            _("Le compte @%(acct)s est gelé depuis le %(date)s : il ne publie plus.")
            % {"acct": account.acct, "date": timezone.localdate(account.frozen_at)},
            code="account_frozen",
        )
    if account.suspended_at is not None:
        raise ValidationError(
            _("Le compte @%(acct)s est suspendu.") % {"acct": account.acct},
            code="account_suspended",
        )


def validate_content(content: Content, *, media_count: int = 0) -> Content:
    """Return ``content`` normalised, or raise ValidationError naming each problem."""
    errors: list[ValidationError] = []
    body = content.text.replace("\r\n", "\n").strip()
    if not body and media_count == 0:
        errors.append(ValidationError(_("Le message est vide."), code="empty"))
    limit = settings.PARVIS_MAX_POST_CHARS
    length = text_format.weighted_length(body) + len(content.spoiler_text)
    if length > limit:
        errors.append(
            ValidationError(
                _("Le message compte %(length)d caractères ; la limite est %(limit)d.")
                % {"length": length, "limit": limit},
                code="too_long",
            )
        )
    if content.visibility not in LOCAL_VISIBILITIES:
        errors.append(
            ValidationError(
                _("Visibilité inconnue : « %(value)s » (public, unlisted ou followers).")
                % {"value": content.visibility},
                code="visibility",
            )
        )
    if content.language not in LANGUAGES:
        errors.append(
            ValidationError(
                _("Langue inconnue : « %(value)s ».") % {"value": content.language},
                code="language",
            )
        )
    if len(content.spoiler_text) > 255:
        errors.append(
            ValidationError(_("L'avertissement de contenu dépasse 255 caractères."), code="cw")
        )
    if "\x00" in body or "\x00" in content.spoiler_text:
        errors.append(ValidationError(_("Le texte contient un caractère nul."), code="nul"))
    parent = content.in_reply_to
    if parent is not None and (
        parent.deleted_at is not None
        or parent.visibility not in (Visibility.PUBLIC, Visibility.UNLISTED)
    ):
        errors.append(
            ValidationError(
                _("Le message auquel vous répondez est supprimé ou n'est pas public."),
                code="in_reply_to",
            )
        )
    if errors:
        raise ValidationError(errors)
    return Content(
        text=body,
        spoiler_text=content.spoiler_text.strip(),
        sensitive=content.sensitive or bool(content.spoiler_text.strip()),
        language=content.language,
        visibility=content.visibility,
        in_reply_to=parent,
    )


def _mention_resolver(account: Account):
    def resolve(handle: str, domain: str | None) -> str | None:
        domain_name = (domain or account.domain.name).lower()
        local = Account.objects.filter(
            domain__name=domain_name, handle=handle.lower(), suspended_at__isnull=True
        ).first()
        if local is not None:
            return absolute(domain_name, f"/@{local.handle}")
        if domain is None or Domain.objects.filter(name=domain_name).exists():
            return None
        # A remote address is linked to the profile path most servers use; the
        # federation layer resolves it properly once it fetches the actor.
        return f"https://{domain_name}/@{handle}"

    return resolve


def render_content(account: Account, body: str) -> text_format.Rendered:
    """Render post text for ``account`` (links, hashtags, mentions)."""
    return text_format.render(
        body,
        tag_url=lambda name: absolute(account.domain.name, f"/tags/{name}"),
        mention_url=_mention_resolver(account),
    )


def _check_schedule(when: datetime) -> None:
    if timezone.is_naive(when):
        raise ValidationError(_("La date de programmation doit préciser son fuseau."))
    if when < timezone.now() + MIN_SCHEDULE_DELAY:
        raise ValidationError(
            _("La date de programmation doit être au moins 5 minutes dans le futur."),
            code="schedule_past",
        )


def _attach(draft: Draft, media_ids: Sequence[int]) -> None:
    if len(media_ids) > settings.PARVIS_MAX_MEDIA_PER_POST:
        raise ValidationError(
            _("Un message porte au plus %(max)d images.")
            % {"max": settings.PARVIS_MAX_MEDIA_PER_POST},
            code="too_many_media",
        )
    found = MediaAttachment.objects.filter(
        id__in=media_ids, account=draft.account, post__isnull=True
    )
    if found.count() != len(set(media_ids)):
        raise ValidationError(
            _("Une image jointe est introuvable ou déjà publiée."), code="media_unknown"
        )
    for position, media_id in enumerate(media_ids):
        MediaAttachment.objects.filter(id=media_id).update(draft=draft, position=position)


def _alt_text(description: str, filename: str) -> str:
    description = description.strip()
    if not description:
        raise ValidationError(
            _("Le texte alternatif de l'image « %(name)s » est obligatoire.") % {"name": filename},
            code="alt_missing",
        )
    if len(description) > 1500:
        raise ValidationError(_("Le texte alternatif dépasse 1 500 caractères."), code="alt_long")
    return description


@transaction.atomic
def describe_media(staff: Staff, media: MediaAttachment, description: str) -> MediaAttachment:
    """Change the alt text of an image not published yet.

    The update is conditional: a post published meanwhile keeps the text it went out with
    (then ValidationError, code ``published``).
    """
    require(staff, media.account, Capability.WRITE_DRAFT)
    ensure_can_speak(media.account)
    description = _alt_text(description, media.file.name.rsplit("/", 1)[-1])
    if not MediaAttachment.objects.filter(pk=media.pk, post__isnull=True).update(
        description=description
    ):
        raise ValidationError(_("Cette image est déjà publiée."), code="published")
    media.description = description
    return media


def focus_media(
    staff: Staff, media: MediaAttachment, focus: tuple[float, float]
) -> MediaAttachment:
    """Move the focus point of an image not published yet (conditional, as
    :func:`describe_media`)."""
    require(staff, media.account, Capability.WRITE_DRAFT)
    ensure_can_speak(media.account)
    x, y = _focus(focus)
    if not MediaAttachment.objects.filter(pk=media.pk, post__isnull=True).update(
        focus_x=x, focus_y=y
    ):
        raise ValidationError(_("Cette image est déjà publiée."), code="published")
    media.focus_x, media.focus_y = x, y
    return media


def _focus(focus: tuple[float, float]) -> tuple[float, float]:
    x, y = focus
    if not all(-1.0 <= value <= 1.0 for value in (x, y)):
        raise ValidationError(
            _("Le point de focus doit être entre -1 et 1 sur chaque axe : %(x)s, %(y)s.")
            % {"x": x, "y": y},
            code="focus",
        )
    return float(x), float(y)


@transaction.atomic
def upload_media(
    staff: Staff,
    account: Account,
    data: bytes,
    *,
    filename: str,
    description: str,
    focus: tuple[float, float] = (0.0, 0.0),
) -> MediaAttachment:
    """Store a cleaned image for a future post of ``account``."""
    require(staff, account, Capability.WRITE_DRAFT)
    ensure_can_speak(account)
    description = _alt_text(description, filename)
    x, y = _focus(focus)
    image = process_image(data, filename)
    media = MediaAttachment(
        account=account,
        description=description,
        content_type=image.content_type,
        focus_x=x,
        focus_y=y,
    )
    media.file.save(image.content.name, image.content, save=False)
    media.thumbnail.save(image.thumbnail.name, image.thumbnail, save=False)
    media.save()
    return media


@transaction.atomic
def save_draft(
    staff: Staff,
    account: Account,
    content: Content,
    *,
    draft: Draft | None = None,
    media_ids: Sequence[int] = (),
) -> Draft:
    """Create or update a draft of ``account``."""
    require(staff, account, Capability.WRITE_DRAFT)
    ensure_can_speak(account)
    existing_media = list(draft.media.values_list("id", flat=True)) if draft else []
    all_media = [*existing_media, *[m for m in media_ids if m not in existing_media]]
    content = validate_content(content, media_count=len(all_media))
    if draft is None:
        draft = Draft(account=account, author=staff)
    elif draft.state in (Draft.State.PUBLISHED,):
        raise ValidationError(_("Ce brouillon est déjà publié."), code="already_published")
    elif draft.account_id != account.id:
        raise ValidationError(_("Ce brouillon appartient à un autre compte."))
    draft.text = content.text
    draft.spoiler_text = content.spoiler_text
    draft.sensitive = content.sensitive
    draft.language = content.language
    draft.visibility = content.visibility
    draft.in_reply_to = content.in_reply_to
    draft.updated_at = timezone.now()
    draft.save()
    _attach(draft, all_media)
    return draft


@transaction.atomic
def submit_draft(staff: Staff, draft: Draft, *, scheduled_at: datetime | None = None) -> Draft:
    """Ask a publisher to approve ``draft`` (optionally for a given time)."""
    require(staff, draft.account, Capability.WRITE_DRAFT)
    ensure_can_speak(draft.account)
    if draft.state != Draft.State.DRAFT:
        raise ValidationError(_("Seul un brouillon peut être soumis."), code="state")
    if scheduled_at is not None:
        _check_schedule(scheduled_at)
    draft.state = Draft.State.PENDING
    draft.scheduled_at = scheduled_at
    draft.updated_at = timezone.now()
    draft.save()
    return draft


@transaction.atomic
def reject_draft(staff: Staff, draft: Draft, note: str) -> Draft:
    """Send a submitted draft back to its author with a note."""
    require(staff, draft.account, Capability.PUBLISH)
    if draft.state != Draft.State.PENDING:
        raise ValidationError(_("Ce brouillon n'attend pas de validation."), code="state")
    draft.state = Draft.State.DRAFT
    draft.review_note = note.strip()
    draft.updated_at = timezone.now()
    draft.save()
    return draft


@transaction.atomic
def publish_draft(staff: Staff, draft: Draft, *, scheduled_at: datetime | None = None) -> Draft:
    """Publish ``draft`` now, or schedule it; approving a submitted draft is this action.

    A scheduled draft is handed to the task queue in the same transaction, so it
    is published even if this process stops right after.
    """
    draft = (
        Draft.objects.select_for_update(of=("self",))
        .select_related("account__domain")
        .get(pk=draft.pk)
    )
    require(staff, draft.account, Capability.PUBLISH)
    ensure_can_speak(draft.account)
    if draft.state in (Draft.State.PUBLISHED, Draft.State.SCHEDULED):
        raise ValidationError(_("Ce brouillon est déjà publié ou programmé."), code="state")
    content = validate_content(
        Content.of(draft),
        media_count=draft.media.count(),
    )
    draft.approved_by = staff
    draft.updated_at = timezone.now()
    when = scheduled_at or (draft.scheduled_at if draft.state == Draft.State.PENDING else None)
    if when is not None:
        _check_schedule(when)
        draft.state = Draft.State.SCHEDULED
        draft.scheduled_at = when
        draft.save()
        publish_scheduled.using(run_after=when).enqueue(draft.pk)
        return draft
    draft.post = _create_post(draft.account, content, published_by=staff, draft=draft)
    draft.state = Draft.State.PUBLISHED
    draft.save()
    return draft


def _scheduled_for_update(staff: Staff, draft: Draft) -> Draft:
    draft = (
        Draft.objects.select_for_update(of=("self",))
        .select_related("account__domain")
        .get(pk=draft.pk)
    )
    require(staff, draft.account, Capability.PUBLISH)
    ensure_can_speak(draft.account)
    if draft.state != Draft.State.SCHEDULED:
        raise ValidationError(_("Ce brouillon n'est pas programmé."), code="not_scheduled")
    return draft


@transaction.atomic
def reschedule_draft(staff: Staff, draft: Draft, scheduled_at: datetime) -> Draft:
    """Move a scheduled draft to another time.

    A task is queued for the new time; the one queued for the old time finds the draft
    scheduled later and leaves it (:func:`publish_due_draft`).
    """
    draft = _scheduled_for_update(staff, draft)
    _check_schedule(scheduled_at)
    draft.scheduled_at = scheduled_at
    draft.updated_at = timezone.now()
    draft.save()
    publish_scheduled.using(run_after=scheduled_at).enqueue(draft.pk)
    return draft


@transaction.atomic
def cancel_scheduled_draft(staff: Staff, draft: Draft) -> Draft:
    """Take a scheduled draft back to the drafts: nothing is published at its time."""
    draft = _scheduled_for_update(staff, draft)
    draft.state = Draft.State.DRAFT
    draft.scheduled_at = None
    draft.approved_by = None
    draft.updated_at = timezone.now()
    draft.save()
    return draft


def publish_due_draft(draft_id: int) -> Post | None:
    """Publish a scheduled draft whose time has come; a no-op if it already went out."""
    with transaction.atomic():
        draft = (
            Draft.objects.select_for_update(of=("self",))
            .select_related("account__domain", "approved_by")
            .filter(pk=draft_id)
            .first()
        )
        if draft is None or draft.state != Draft.State.SCHEDULED:
            return None
        if draft.scheduled_at and draft.scheduled_at > timezone.now():
            # Rescheduled later than this task: the newer task publishes it.
            return None
        if draft.account.frozen_at or draft.account.suspended_at:
            draft.state = Draft.State.DRAFT
            draft.review_note = _("Publication annulée : le compte ne peut plus publier.")
            draft.save()
            return None
        content = Content.of(draft)
        draft.post = _create_post(
            draft.account, content, published_by=draft.approved_by, draft=draft
        )
        draft.state = Draft.State.PUBLISHED
        draft.save()
        return draft.post


@transaction.atomic
def publish_post(
    staff: Staff, account: Account, content: Content, *, media_ids: Sequence[int] = ()
) -> Post:
    """Write and publish a post at once (its draft is kept, in the published state)."""
    require(staff, account, Capability.PUBLISH)
    draft = save_draft(staff, account, content, media_ids=media_ids)
    return publish_draft(staff, draft).post  # type: ignore[return-value]


def _set_hashtags(post: Post, names: list[str]) -> None:
    tags = []
    for name in names:
        tag, _created = Hashtag.objects.get_or_create(name=text_format.normalize_hashtag(name))
        tags.append(tag)
    post.hashtags.set(tags)


def _create_post(
    account: Account, content: Content, *, published_by: Staff | None, draft: Draft | None
) -> Post:
    rendered = render_content(account, content.text)
    now = timezone.now()
    post = Post.objects.create(
        account=account,
        mandate=current_mandate(account),
        published_by=published_by,
        text=content.text,
        content_html=rendered.html,
        spoiler_text=content.spoiler_text,
        sensitive=content.sensitive,
        language=content.language,
        visibility=content.visibility,
        in_reply_to=content.in_reply_to,
        published_at=now,
    )
    _set_hashtags(post, rendered.hashtags)
    if content.in_reply_to is not None and content.in_reply_to.account_id != account.pk:
        # A reply is addressed to the author it answers, wherever they are.
        post.mentions.add(content.in_reply_to.account)
    if draft is not None:
        draft.media.update(post=post)
    home.deliver_post(post)
    touch(account)
    events.emit(events.POST_PUBLISHED, post_id=post.pk)
    return post


def record_version(post: Post, *, at: datetime, by: Staff | None) -> None:
    """Keep the post's current text as one version of its history."""
    PostEdit.objects.create(
        post=post,
        text=post.text,
        content_html=post.content_html,
        spoiler_text=post.spoiler_text,
        sensitive=post.sensitive,
        language=post.language,
        created_at=at,
        edited_by=by,
    )


@transaction.atomic
def edit_post(staff: Staff, post: Post, content: Content) -> Post:
    """Change a published post, keeping every earlier version visible."""
    post = (
        Post.objects.select_for_update(of=("self",))
        .select_related("account__domain")
        .get(pk=post.pk)
    )
    require(staff, post.account, Capability.PUBLISH)
    ensure_can_speak(post.account)
    if post.deleted_at is not None:
        raise ValidationError(_("Ce message a été supprimé."), code="deleted")
    content = validate_content(
        Content(
            content.text, content.spoiler_text, content.sensitive, content.language, post.visibility
        ),
        media_count=post.media.count(),
    )
    if not post.edits.exists():
        record_version(post, at=post.published_at, by=post.published_by)
    rendered = render_content(post.account, content.text)
    now = timezone.now()
    post.text = content.text
    post.content_html = rendered.html
    post.spoiler_text = content.spoiler_text
    post.sensitive = content.sensitive
    post.language = content.language
    post.edited_at = now
    post.save()
    _set_hashtags(post, rendered.hashtags)
    record_version(post, at=now, by=staff)
    touch(post.account)
    events.emit(events.POST_EDITED, post_id=post.pk)
    return post


@transaction.atomic
def delete_post(staff: Staff, post: Post) -> Post:
    """Delete a post: its content and images go, a tombstone stays at its address."""
    post = (
        Post.objects.select_for_update(of=("self",))
        .select_related("account__domain")
        .get(pk=post.pk)
    )
    require(staff, post.account, Capability.PUBLISH)
    ensure_can_speak(post.account)
    if post.deleted_at is not None:
        return post
    erase_post(post)
    events.emit(events.POST_DELETED, post_id=post.pk)
    return post


def erase_post(post: Post) -> None:
    """Remove a post's content, versions and images, leaving its tombstone (in a transaction)."""
    media = list(post.media.all())
    post.deleted_at = timezone.now()
    post.pinned_at = None
    post.text = ""
    post.content_html = ""
    post.spoiler_text = ""
    post.save()
    post.hashtags.clear()
    post.mentions.clear()
    post.edits.all().delete()
    for item in media:
        files = [item.file, item.thumbnail]
        item.delete()
        transaction.on_commit(lambda files=files: [f.delete(save=False) for f in files])
    touch(post.account)
