"""Note objects and the Create activities that carry them: rendered and received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from parvis.core.text import MENTION_RE
from parvis.core.urls import absolute
from parvis.federation import ids
from parvis.federation.origins import same_origin
from parvis.federation.vocab.context import OBJECT_CONTEXT, PUBLIC, xsd_datetime
from parvis.federation.vocab.html import HtmlTooLarge, plain_text, sanitise_html
from parvis.identity.models import Account
from parvis.publishing.models import Post, Visibility
from parvis.publishing.received import ReceivedPoll


def audience(post: Post) -> tuple[list[str], list[str]]:
    """``to`` and ``cc`` of a post, by visibility (as Mastodon addresses them)."""
    followers = ids.actor_path_uri(post.account, "followers")
    if post.visibility == Visibility.PUBLIC:
        return [PUBLIC], [followers]
    if post.visibility == Visibility.UNLISTED:
        return [followers], [PUBLIC]
    return [followers], []


def _local_mentions(post: Post) -> list[Account]:
    # Only mentions of hosted accounts are resolvable without fetching: remote
    # ones are added when the federation layer has resolved them by WebFinger.
    found = []
    for match in MENTION_RE.finditer(post.text):
        handle, domain = match.group(1).lower(), (match.group(2) or post.account.domain.name)
        account = (
            Account.objects.select_related("domain")
            .filter(handle=handle, domain__name=domain.lower())
            .first()
        )
        if account is not None and account not in found:
            found.append(account)
    return found


def render_note(post: Post, *, with_context: bool = True) -> dict[str, Any]:
    """The Note of a published post."""
    to, cc = audience(post)
    mentions = _local_mentions(post)
    cc = cc + [ids.actor_uri(m) for m in mentions if ids.actor_uri(m) not in to]
    note: dict[str, Any] = {
        "id": ids.note_uri(post),
        "type": "Note",
        "attributedTo": ids.actor_uri(post.account),
        "content": post.content_html,
        "contentMap": {post.language: post.content_html},
        "summary": post.spoiler_text or None,
        "sensitive": post.sensitive,
        "published": xsd_datetime(post.published_at),
        "url": ids.note_uri(post),
        "to": to,
        "cc": cc,
        "inReplyTo": ids.note_uri(post.in_reply_to) if post.in_reply_to_id else None,
        "tag": [
            {
                "type": "Hashtag",
                "name": f"#{tag.name}",
                "href": absolute(post.account.domain.name, f"/tags/{tag.name}"),
            }
            for tag in post.hashtags.all()
        ]
        + [{"type": "Mention", "name": f"@{m.acct}", "href": ids.actor_uri(m)} for m in mentions],
        "attachment": [
            {
                "type": "Document",
                "mediaType": media.content_type,
                "url": absolute(post.account.domain.name, media.file.url),
                "name": media.description,
                "width": media.width,
                "height": media.height,
                "focalPoint": [media.focus_x, media.focus_y],
            }
            for media in post.media.all()
        ],
    }
    if post.edited_at:
        note["updated"] = xsd_datetime(post.edited_at)
    if with_context:
        note = {"@context": OBJECT_CONTEXT, **note}
    return note


def render_tombstone(post: Post) -> dict[str, Any]:
    """What a deleted post's id answers."""
    return {
        "@context": OBJECT_CONTEXT,
        "id": ids.note_uri(post),
        "type": "Tombstone",
        "formerType": "Note",
        "deleted": xsd_datetime(post.deleted_at),
    }


def render_create(post: Post, *, with_context: bool = True) -> dict[str, Any]:
    """The Create activity that publishes a post."""
    note = render_note(post, with_context=False)
    activity: dict[str, Any] = {
        "id": ids.create_uri(post),
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    if with_context:
        activity = {"@context": OBJECT_CONTEXT, **activity}
    return activity


# --- received notes --------------------------------------------------------------

# Object types shown as posts (Lemmy posts are Pages, blogs send Articles).
NOTE_TYPES = {"Note", "Article", "Page", "Question"}
PUBLIC_ALIASES = {PUBLIC, "as:Public", "Public"}
MAX_RECIPIENTS = 1000
# Mastodon offers four choices; other servers more. Past these, the rest is dropped.
MAX_POLL_OPTIONS = 20
MAX_POLL_OPTION_CHARS = 200


class NoteError(ValueError):
    """A received object that cannot be kept as a post, with the reason."""


@dataclass(frozen=True)
class ParsedNote:
    """A received post, with its HTML sanitised and its addressing normalised."""

    uri: str
    attributed_to: str
    url: str
    content_html: str
    text: str
    summary: str
    sensitive: bool
    language: str
    published: datetime | None
    in_reply_to: str
    recipients: frozenset[str]
    public: bool
    listed: bool
    mentions: tuple[str, ...]
    poll: ReceivedPoll | None = None


def _id_of(value: Any) -> str:
    if isinstance(value, list):
        value = next(iter(value), None)
    if isinstance(value, dict):
        value = value.get("id") or value.get("href")
    return value if isinstance(value, str) else ""


def _uris(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [u for u in (_id_of(i) for i in items[:MAX_RECIPIENTS]) if u]


def _content(document: dict[str, Any]) -> tuple[str, str]:
    """The HTML content and its language (``contentMap`` when there is one)."""
    content = document.get("content")
    language = ""
    content_map = document.get("contentMap")
    if isinstance(content_map, dict):
        for key, value in content_map.items():
            if isinstance(key, str) and isinstance(value, str):
                language = key
                if not isinstance(content, str):
                    content = value
                break
    if not isinstance(content, str):
        content = ""
    return content, language


def parse_note(document: dict[str, Any]) -> ParsedNote:
    """Turn a received Note (or Article, Page, Question) into what Parvis stores."""
    uri = _id_of(document.get("id"))
    if not uri.startswith(("https://", "http://")):
        raise NoteError("the object has no id URL")
    if document.get("type") not in NOTE_TYPES:
        raise NoteError(f"{uri} is a {document.get('type')!r}, not a post")
    author = _id_of(document.get("attributedTo"))
    if not author:
        raise NoteError(f"{uri} has no attributedTo")
    content, language = _content(document)
    name = document.get("name")
    if not content.strip() and isinstance(name, str):
        content = name
    summary = document.get("summary")
    try:
        html = sanitise_html(content)
        summary = plain_text(summary)[:255] if isinstance(summary, str) else ""
    except HtmlTooLarge as error:
        raise NoteError(f"{uri}: {error}") from error
    to, cc = _uris(document.get("to")), _uris(document.get("cc"))
    published = document.get("published")
    published_at = parse_datetime(published) if isinstance(published, str) else None
    url = _id_of(document.get("url"))
    mentions = tuple(
        href
        for tag in (document.get("tag") if isinstance(document.get("tag"), list) else [])[
            :MAX_RECIPIENTS
        ]
        if isinstance(tag, dict) and tag.get("type") == "Mention"
        for href in [_id_of(tag.get("href"))]
        if href
    )
    return ParsedNote(
        uri=uri,
        attributed_to=author,
        url=url if url.startswith(("https://", "http://")) else "",
        content_html=html,
        # Already sanitised and bounded: no second size limit.
        text=plain_text(html, max_bytes=None),
        summary=summary,
        sensitive=document.get("sensitive") is True,
        language=language or "und",
        published=published_at if published_at and published_at.tzinfo else None,
        in_reply_to=_id_of(document.get("inReplyTo")),
        recipients=frozenset(to + cc),
        public=bool(PUBLIC_ALIASES & set(to + cc)),
        listed=bool(PUBLIC_ALIASES & set(to)),
        mentions=mentions,
        poll=parse_poll(document) if document.get("type") == "Question" else None,
    )


def _count(value: Any) -> int | None:
    """A count another server sent: a non-negative integer, else unknown."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def parse_poll(question: dict[str, Any]) -> ReceivedPoll | None:
    """The choices of a ``Question`` (``oneOf``, or ``anyOf`` for several answers) with
    their votes (each choice's ``replies.totalItems``), its end and its voters; None when
    it names no readable choice."""
    multiple = isinstance(question.get("anyOf"), list)
    choices = question.get("anyOf") if multiple else question.get("oneOf")
    if not isinstance(choices, list):
        return None
    options: list[tuple[str, int]] = []
    for choice in choices[:MAX_POLL_OPTIONS]:
        if not isinstance(choice, dict) or not isinstance(choice.get("name"), str):
            continue
        title = plain_text(choice["name"])[:MAX_POLL_OPTION_CHARS]
        replies = choice.get("replies")
        votes = _count(replies.get("totalItems")) if isinstance(replies, dict) else None
        options.append((title, votes or 0))
    if not options:
        return None
    ends = question.get("endTime") or question.get("closed")
    try:
        expires_at = parse_datetime(ends) if isinstance(ends, str) else None
    except ValueError:  # well formed, but no such date
        expires_at = None
    return ReceivedPoll(
        options=tuple(options),
        multiple=multiple,
        expires_at=expires_at if expires_at and expires_at.tzinfo else None,
        voters_count=_count(question.get("votersCount")) if multiple else None,
    )


def owned_by(note: ParsedNote, actor_uri: str) -> bool:
    """The note is the actor's own: attributed to it and on its origin (checklist S8)."""
    return note.attributed_to == actor_uri and same_origin(note.uri, actor_uri)
