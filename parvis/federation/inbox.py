"""Turning stored inbound activities into domain changes, once each.

Handlers receive the parsed activity and its (verified) actor. An activity type
without a handler yet is kept, marked as not handled, so nothing received is
lost while federation grows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from parvis.core.tasks import background
from parvis.federation import ids
from parvis.federation.delivery import queue_activity
from parvis.federation.models import Follow, InboundActivity, RemoteActor
from parvis.federation.remote import fetch_actor
from parvis.federation.vocab.context import OBJECT_CONTEXT
from parvis.identity.models import Account

logger = logging.getLogger(__name__)


def _id(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _local_account(uri: str) -> Account | None:
    """The hosted account whose actor id is ``uri``."""
    parts = urlsplit(uri)
    if not parts.path.startswith("/@"):
        return None
    account = (
        Account.objects.select_related("domain")
        .filter(domain__name=(parts.hostname or "").lower(), handle=parts.path[2:].lower())
        .first()
    )
    return account if account is not None and ids.actor_uri(account) == uri else None


def handle_follow(activity: dict[str, Any], actor: RemoteActor) -> str:
    """Follow of a local account: accepted at once (official accounts are public)."""
    target = _local_account(_id(activity.get("object")))
    if target is None or target.suspended_at:
        return "follow of an unknown account"
    follow, _created = Follow.objects.update_or_create(
        follower=actor,
        target=target,
        defaults={"state": Follow.State.ACCEPTED, "activity_uri": _id(activity)},
    )
    accept = {
        "@context": OBJECT_CONTEXT,
        "id": f"{ids.actor_uri(target)}#accepts/follows/{follow.pk}",
        "type": "Accept",
        "actor": ids.actor_uri(target),
        "object": {
            "id": _id(activity),
            "type": "Follow",
            "actor": actor.uri,
            "object": ids.actor_uri(target),
        },
    }
    queue_activity(target, accept, [actor.inbox])
    return "follow accepted"


def handle_undo(activity: dict[str, Any], actor: RemoteActor) -> str:
    """Undo of a Follow by the same actor: the follow ends."""
    undone = activity.get("object")
    kind = undone.get("type") if isinstance(undone, dict) else None
    undone_id = _id(undone)
    follows = Follow.objects.filter(follower=actor)
    if kind == "Follow" and isinstance(undone, dict):
        target = _local_account(_id(undone.get("object")))
        follows = follows.filter(target=target) if target else follows.none()
    elif undone_id:
        follows = follows.filter(activity_uri=undone_id)
    else:
        return "undo of nothing"
    removed, _detail = follows.delete()
    return "follow undone" if removed else "undo of an unknown activity"


HANDLERS: dict[str, Callable[[dict[str, Any], RemoteActor], str]] = {
    "Follow": handle_follow,
    "Undo": handle_undo,
}


@background(queue="federation", priority=10)
def process_inbound(inbound_id: int) -> str:
    """Apply a stored activity (a no-op when it was already processed)."""
    with transaction.atomic():
        inbound = (
            InboundActivity.objects.select_for_update(of=("self",))
            .filter(pk=inbound_id, processed_at__isnull=True)
            .first()
        )
        if inbound is None:
            return "already processed"
        handler = HANDLERS.get(inbound.kind)
        if handler is None:
            outcome = f"{inbound.kind} not handled yet"
        else:
            activity = json.loads(inbound.body)
            outcome = handler(activity, fetch_actor(inbound.actor_uri))
        inbound.processed_at = timezone.now()
        inbound.outcome = outcome[:255]
        inbound.save(update_fields=["processed_at", "outcome"])
        return outcome
