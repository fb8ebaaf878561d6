"""Posts received from other servers: recorded, edited and deleted by their authors only.

The federation adapter has already checked who speaks (the signature, the
origin of the object) and sanitised the HTML; these functions keep the rows
consistent: one post per object id, edits kept as versions like local edits,
and a deletion remembered even when it arrives before the post (the Delete
then wins over a late Create).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from parvis.identity.models import Account
from parvis.identity.services import touch
from parvis.interactions import home
from parvis.publishing.models import Poll, Post, Visibility
from parvis.publishing.services import erase_post, record_version


@dataclass(frozen=True)
class ReceivedPoll:
    """The poll of a received post: its choices with their votes, as its server counts."""

    options: tuple[tuple[str, int], ...]
    multiple: bool = False
    expires_at: datetime | None = None
    voters_count: int | None = None


@dataclass
class ReceivedContent:
    """A post as another server describes it, already checked and sanitised."""

    uri: str
    content_html: str
    text: str
    url: str = ""
    spoiler_text: str = ""
    sensitive: bool = False
    language: str = "und"
    visibility: str = Visibility.PUBLIC
    published_at: datetime | None = None
    in_reply_to: Post | None = None
    in_reply_to_uri: str = ""
    mentions: list[Account] = field(default_factory=list)
    poll: ReceivedPoll | None = None


def _fill(post: Post, content: ReceivedContent) -> None:
    post.content_html = content.content_html
    post.text = content.text
    post.spoiler_text = content.spoiler_text[:255]
    post.sensitive = content.sensitive or bool(content.spoiler_text)
    post.language = content.language[:8] or "und"


def _same_text(post: Post, content: ReceivedContent) -> bool:
    return (
        post.content_html == content.content_html
        and post.spoiler_text == content.spoiler_text[:255]
        and post.sensitive == (content.sensitive or bool(content.spoiler_text))
    )


def _keep_poll(post: Post, poll: ReceivedPoll | None) -> None:
    """Store the post's poll as its server describes it now (votes change by Update)."""
    if poll is None:
        Poll.objects.filter(post=post).delete()
        return
    Poll.objects.update_or_create(
        post=post,
        defaults={
            "multiple": poll.multiple,
            "expires_at": poll.expires_at,
            "voters_count": poll.voters_count,
            "options": [{"title": title, "votes_count": votes} for title, votes in poll.options],
        },
    )


@transaction.atomic
def record_received_post(account: Account, content: ReceivedContent) -> Post | None:
    """Store a post of ``account`` (another server's), once; None when it was deleted.

    Repeating the same object changes nothing and returns the stored post.
    """
    existing = Post.objects.by_uri(content.uri).select_for_update().first()
    if existing is not None:
        if existing.account_id != account.pk:
            return None
        return None if existing.deleted_at else existing
    post = Post(
        account=account,
        uri=content.uri,
        url=content.url[:2048],
        visibility=content.visibility,
        in_reply_to=content.in_reply_to,
        in_reply_to_uri=content.in_reply_to_uri[:2048],
        published_at=min(content.published_at or timezone.now(), timezone.now()),
    )
    _fill(post, content)
    post.save()
    post.mentions.set(content.mentions)
    _keep_poll(post, content.poll)
    home.deliver_post(post)
    if content.in_reply_to is not None:
        # The parent's page lists its replies.
        touch(content.in_reply_to.account)
    return post


@transaction.atomic
def edit_received_post(post: Post, content: ReceivedContent) -> Post:
    """Apply its author's edit to a received post, keeping the earlier version."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.deleted_at is not None:
        return post
    if _same_text(post, content):
        # A poll's new counts come as an Update of the whole question: not an edit.
        _keep_poll(post, content.poll)
        return post
    if not post.edits.exists():
        record_version(post, at=post.published_at, by=None)
    _fill(post, content)
    post.edited_at = timezone.now()
    post.save()
    post.mentions.set(content.mentions)
    _keep_poll(post, content.poll)
    record_version(post, at=post.edited_at, by=None)
    if post.in_reply_to_id:
        touch(post.in_reply_to.account)
    return post


@transaction.atomic
def delete_received_post(account: Account, uri: str) -> bool:
    """Delete ``account``'s post ``uri``; remember the deletion if the post is not here yet.

    Returns False when the post belongs to another account (nothing changes).
    """
    post = Post.objects.by_uri(uri).select_for_update().first()
    if post is None:
        Post.objects.create(
            account=account,
            uri=uri,
            text="",
            content_html="",
            visibility=Visibility.DIRECT,
            deleted_at=timezone.now(),
        )
        return True
    if post.account_id != account.pk:
        return False
    if post.deleted_at is None:
        erase_post(post)
        if post.in_reply_to_id:
            touch(post.in_reply_to.account)
    return True


@transaction.atomic
def erase_account_posts(account: Account) -> int:
    """Delete every post of an account of another server that was deleted there."""
    count = 0
    for post in Post.objects.select_for_update().filter(account=account, deleted_at__isnull=True):
        erase_post(post)
        count += 1
    return count
