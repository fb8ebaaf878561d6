"""Note objects and the Create activities that carry them."""

from __future__ import annotations

from typing import Any

from parvis.core.text import MENTION_RE
from parvis.core.urls import absolute
from parvis.federation import ids
from parvis.federation.vocab.context import OBJECT_CONTEXT, PUBLIC, xsd_datetime
from parvis.identity.models import Account
from parvis.publishing.models import Post, Visibility


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
        "inReplyTo": None,
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
