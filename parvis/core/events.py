"""Domain events: how a domain action reaches the protocol adapters without knowing them.

A domain service calls :func:`emit` inside its transaction; every background
handler subscribed to that event is enqueued in the same transaction
(transactional outbox). Protocol apps subscribe in their ``AppConfig.ready``.
This replaces Django signals across apps: the list of listeners is explicit and
their work is durable, retried and idempotent like any task.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django_tasks.base import Task

POST_PUBLISHED = "post.published"
POST_EDITED = "post.edited"
POST_DELETED = "post.deleted"
# A hosted account asked to follow an account of another server, or stopped following it.
FOLLOW_REQUESTED = "follow.requested"
FOLLOW_ENDED = "follow.ended"
# The team of a locked account answered a follow request.
FOLLOW_APPROVED = "follow.approved"
FOLLOW_REFUSED = "follow.refused"
# A hosted account liked or boosted a post, or took its like or boost back.
REACTION_ADDED = "reaction.added"
REACTION_REMOVED = "reaction.removed"
# A hosted account's public profile changed; a hosted account moved to another account.
ACCOUNT_UPDATED = "account.updated"
ACCOUNT_MOVED = "account.moved"
# A hosted account blocked an account of another server, or lifted the block.
BLOCK_ADDED = "block.added"
BLOCK_REMOVED = "block.removed"

_subscribers: defaultdict[str, list[Task[..., Any]]] = defaultdict(list)


def subscribe(event: str, handler: Task[..., Any]) -> None:
    """Run ``handler(**payload)`` in the background each time ``event`` is emitted."""
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def emit(event: str, **payload: Any) -> int:
    """Enqueue the subscribers of ``event``; return how many were enqueued."""
    for handler in _subscribers[event]:
        handler.enqueue(**payload)
    return len(_subscribers[event])
