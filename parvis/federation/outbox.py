"""What Parvis sends when a post is published, edited or deleted.

These handlers subscribe to the publishing events (see ``apps.py``); each turns
the event into one stored activity and its deliveries.
"""

from __future__ import annotations

from parvis.core.tasks import background
from parvis.federation import ids
from parvis.federation.delivery import follower_inboxes, queue_activity
from parvis.federation.models import Delivery
from parvis.federation.vocab.context import OBJECT_CONTEXT
from parvis.federation.vocab.notes import audience, render_create, render_note
from parvis.publishing.models import Post


def _post(post_id: int) -> Post | None:
    return (
        Post.objects.select_related("account__domain")
        .prefetch_related("hashtags", "media")
        .filter(pk=post_id)
        .first()
    )


@background(queue="federation", priority=5)
def federate_published(post_id: int) -> int:
    """Send ``Create`` for a new post to its audience; return how many deliveries."""
    post = _post(post_id)
    if post is None or post.deleted_at:
        return 0
    return queue_activity(post.account, render_create(post), follower_inboxes(post.account))


@background(queue="federation", priority=5)
def federate_edited(post_id: int) -> int:
    """Send ``Update`` with the edited Note."""
    post = _post(post_id)
    if post is None or post.deleted_at or post.edited_at is None:
        return 0
    note = render_note(post, with_context=False)
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{ids.note_uri(post)}#updates/{int(post.edited_at.timestamp())}",
        "type": "Update",
        "actor": note["attributedTo"],
        "published": note["updated"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    return queue_activity(post.account, document, follower_inboxes(post.account))


@background(queue="federation", priority=5)
def federate_deleted(post_id: int) -> int:
    """Send ``Delete`` with a Tombstone."""
    post = _post(post_id)
    if post is None or post.deleted_at is None:
        return 0
    # A host still waiting for this post's Create or Update gets the Delete alone:
    # delivered later, they would bring the deleted post back after the Delete.
    Delivery.objects.filter(
        state=Delivery.State.PENDING, activity__uri__startswith=ids.note_uri(post)
    ).update(state=Delivery.State.GIVEN_UP, last_error="superseded by Delete")
    to, cc = audience(post)
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{ids.note_uri(post)}#delete",
        "type": "Delete",
        "actor": ids.actor_uri(post.account),
        "to": to,
        "cc": cc,
        "object": {"id": ids.note_uri(post), "type": "Tombstone"},
    }
    return queue_activity(post.account, document, follower_inboxes(post.account))
