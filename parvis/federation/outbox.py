"""What Parvis sends: posts published, edited or deleted, follows given or answered,
likes, boosts and blocks by hosted accounts.

The background handlers subscribe to domain events (see ``apps.py``); each turns
the event into one stored activity and its deliveries. The inbox handlers call
the answer functions (Accept, Reject) directly, inside their transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from parvis.core.tasks import background
from parvis.federation import ids
from parvis.federation.delivery import queue_activity
from parvis.federation.models import Delivery, RemoteActor
from parvis.federation.vocab.actors import render_actor
from parvis.federation.vocab.context import OBJECT_CONTEXT, PUBLIC, xsd_datetime
from parvis.federation.vocab.notes import audience, render_create, render_note
from parvis.identity.models import Account
from parvis.interactions.models import Block, Follow, Reaction
from parvis.publishing.models import Post


def follower_inboxes(account: Account) -> list[str]:
    """Distinct inboxes that must receive the account's posts (shared inboxes first)."""
    rows = RemoteActor.objects.filter(
        account__following__target=account, account__following__state=Follow.State.ACCEPTED
    ).values_list("shared_inbox", "inbox")
    return list(dict.fromkeys(shared or inbox for shared, inbox in rows))


def post_inboxes(post: Post) -> list[str]:
    """Followers' inboxes, and those of the remote accounts the post mentions or answers."""
    inboxes = follower_inboxes(post.account)
    mentioned = RemoteActor.objects.filter(account__in=post.mentions.all()).values_list(
        "inbox", flat=True
    )
    return list(dict.fromkeys([*inboxes, *mentioned]))


def _post(post_id: int) -> Post | None:
    return (
        Post.objects.select_related("account__domain")
        .prefetch_related("hashtags", "media", "mentions")
        .filter(pk=post_id)
        .first()
    )


@background(queue="federation", priority=5)
def federate_published(post_id: int) -> int:
    """Send ``Create`` for a new post to its audience; return how many deliveries."""
    post = _post(post_id)
    if post is None or post.deleted_at:
        return 0
    return queue_activity(post.account, render_create(post), post_inboxes(post))


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
    return queue_activity(post.account, document, post_inboxes(post))


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
    return queue_activity(post.account, document, post_inboxes(post))


# --- follows -----------------------------------------------------------------------


def _follow_document(follow: Follow) -> dict[str, Any]:
    return {
        "id": follow.uri,
        "type": "Follow",
        "actor": ids.actor_uri(follow.follower),
        "object": ids.actor_uri(follow.target),
    }


def _answer(kind: str, target: Account, follower: RemoteActor, follow_uri: str, key: str) -> None:
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{ids.actor_uri(target)}#{kind.lower()}s/follows/{key}",
        "type": kind,
        "actor": ids.actor_uri(target),
        "object": {
            "id": follow_uri,
            "type": "Follow",
            "actor": follower.uri,
            "object": ids.actor_uri(target),
        },
    }
    queue_activity(target, document, [follower.inbox])


def accept_follow(follow: Follow) -> None:
    """Answer a remote account's Follow of a hosted account with Accept."""
    _answer("Accept", follow.target, follow.follower.remote_actor, follow.uri, str(follow.pk))


def reject_follow(target: Account, follower: RemoteActor, follow_uri: str) -> None:
    """Answer a remote account's Follow (or end an accepted one) with Reject."""
    key = hashlib.sha256(follow_uri.encode()).hexdigest()[:16]
    _answer("Reject", target, follower, follow_uri, key)


@background(queue="federation", priority=5)
def federate_follow_requested(follow_id: int) -> int:
    """Send the Follow of a hosted account to the remote account it wants to follow."""
    follow = (
        Follow.objects.select_related("follower__domain", "target__remote_actor")
        .filter(pk=follow_id)
        .first()
    )
    if follow is None or follow.target.is_local:
        return 0
    if not follow.uri:
        follow.uri = f"{ids.actor_uri(follow.follower)}#follows/{follow.pk}"
        follow.save(update_fields=["uri"])
    document = {"@context": OBJECT_CONTEXT, **_follow_document(follow)}
    return queue_activity(follow.follower, document, [follow.target.remote_actor.inbox])


@background(queue="federation", priority=5)
def federate_follow_ended(follower_id: int, target_id: int, uri: str) -> int:
    """Send Undo Follow when a hosted account stops following a remote account."""
    follower = Account.objects.select_related("domain").filter(pk=follower_id).first()
    target = Account.objects.select_related("remote_actor").filter(pk=target_id).first()
    if follower is None or target is None or not uri or target.is_local:
        return 0
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{uri}/undo",
        "type": "Undo",
        "actor": ids.actor_uri(follower),
        "object": {
            "id": uri,
            "type": "Follow",
            "actor": ids.actor_uri(follower),
            "object": target.uri,
        },
    }
    return queue_activity(follower, document, [target.remote_actor.inbox])


@background(queue="federation", priority=5)
def federate_follow_approved(follow_id: int) -> int:
    """Send Accept once the team of a locked account approved a follow request."""
    follow = (
        Follow.objects.select_related("target__domain", "follower__remote_actor")
        .filter(pk=follow_id, state=Follow.State.ACCEPTED)
        .first()
    )
    if follow is None or follow.follower.is_local:
        return 0
    accept_follow(follow)
    return 1


@background(queue="federation", priority=5)
def federate_follow_refused(target_id: int, follower_id: int, uri: str) -> int:
    """Send Reject when the team of a locked account refused a follow request."""
    target = Account.objects.select_related("domain").filter(pk=target_id).first()
    follower = RemoteActor.objects.filter(account_id=follower_id).first()
    if target is None or follower is None:
        return 0
    reject_follow(target, follower, uri)
    return 1


# --- likes, boosts and blocks --------------------------------------------------------

REACTION_TYPES = {Reaction.Kind.FAVOURITE: "Like", Reaction.Kind.BOOST: "Announce"}


def _reaction_uri(account: Account, kind: str, reaction_id: int) -> str:
    # Derived from the row, so that an Undo queued before the Like went out still
    # names the id the Like carries.
    label = "likes" if kind == Reaction.Kind.FAVOURITE else "boosts"
    return f"{ids.actor_uri(account)}#{label}/{reaction_id}"


def _reaction_document(account: Account, kind: str, uri: str, post: Post) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": uri,
        "type": REACTION_TYPES[kind],
        "actor": ids.actor_uri(account),
        "object": ids.note_uri(post),
    }
    if kind == Reaction.Kind.BOOST:
        # Addressed as Mastodon addresses boosts: public, copied to the author and followers.
        document["to"] = [PUBLIC]
        document["cc"] = [ids.actor_uri(post.account), ids.actor_path_uri(account, "followers")]
    return document


def _reaction_inboxes(account: Account, kind: str, post: Post) -> list[str]:
    """The author's inbox when it is on another server; a boost also goes to followers."""
    inboxes = follower_inboxes(account) if kind == Reaction.Kind.BOOST else []
    author = RemoteActor.objects.filter(account_id=post.account_id).first()
    if author is not None:
        inboxes.insert(0, author.inbox)
    return list(dict.fromkeys(inboxes))


@background(queue="federation", priority=5)
def federate_reaction_added(reaction_id: int) -> int:
    """Send Like or Announce when a hosted account likes or boosts a post."""
    reaction = (
        Reaction.objects.select_related("account__domain", "post__account")
        .filter(pk=reaction_id)
        .first()
    )
    if reaction is None or not reaction.account.is_local or reaction.post.deleted_at:
        return 0
    if not reaction.uri:
        reaction.uri = _reaction_uri(reaction.account, reaction.kind, reaction.pk)
        reaction.save(update_fields=["uri"])
    document = _reaction_document(reaction.account, reaction.kind, reaction.uri, reaction.post)
    if reaction.kind == Reaction.Kind.BOOST:
        document["published"] = xsd_datetime(reaction.created_at)
    inboxes = _reaction_inboxes(reaction.account, reaction.kind, reaction.post)
    if not inboxes:
        return 0  # a like of a hosted post by a hosted account concerns no other server
    return queue_activity(reaction.account, {"@context": OBJECT_CONTEXT, **document}, inboxes)


@background(queue="federation", priority=5)
def federate_reaction_removed(
    account_id: int, post_id: int, kind: str, reaction_id: int, uri: str
) -> int:
    """Send Undo of the Like or Announce a hosted account took back."""
    account = Account.objects.select_related("domain").filter(pk=account_id).first()
    post = Post.objects.select_related("account").filter(pk=post_id).first()
    if account is None or post is None or not account.is_local or kind not in REACTION_TYPES:
        return 0
    undone = _reaction_document(
        account, kind, uri or _reaction_uri(account, kind, reaction_id), post
    )
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{undone['id']}/undo",
        "type": "Undo",
        "actor": undone["actor"],
        "object": undone,
    }
    inboxes = _reaction_inboxes(account, kind, post)
    return queue_activity(account, document, inboxes) if inboxes else 0


def _block_uri(account: Account, block_id: int) -> str:
    return f"{ids.actor_uri(account)}#blocks/{block_id}"


@background(queue="federation", priority=5)
def federate_block_added(block_id: int) -> int:
    """Send Block to the remote account a hosted account blocked."""
    block = Block.objects.select_related("account__domain", "target").filter(pk=block_id).first()
    if block is None or not block.account.is_local or block.target.is_local:
        return 0
    target = RemoteActor.objects.filter(account_id=block.target_id).first()
    if target is None:
        return 0
    if not block.uri:
        block.uri = _block_uri(block.account, block.pk)
        block.save(update_fields=["uri"])
    document = {
        "@context": OBJECT_CONTEXT,
        "id": block.uri,
        "type": "Block",
        "actor": ids.actor_uri(block.account),
        "object": target.uri,
    }
    return queue_activity(block.account, document, [target.inbox])


@background(queue="federation", priority=5)
def federate_block_removed(account_id: int, target_id: int, block_id: int, uri: str) -> int:
    """Send Undo Block when a hosted account lifts its block of a remote account."""
    account = Account.objects.select_related("domain").filter(pk=account_id).first()
    target = RemoteActor.objects.filter(account_id=target_id).first()
    if account is None or target is None or not account.is_local:
        return 0
    uri = uri or _block_uri(account, block_id)
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{uri}/undo",
        "type": "Undo",
        "actor": ids.actor_uri(account),
        "object": {
            "id": uri,
            "type": "Block",
            "actor": ids.actor_uri(account),
            "object": target.uri,
        },
    }
    return queue_activity(account, document, [target.inbox])


def _hosted(account_id: int) -> Account | None:
    return (
        Account.objects.local()
        .select_related("domain", "moved_to__domain")
        .filter(pk=account_id)
        .first()
    )


@background(queue="federation", priority=5)
def federate_account_updated(account_id: int) -> int:
    """Send ``Update`` of the actor to its followers' servers (a profile changed)."""
    account = _hosted(account_id)
    if account is None or account.suspended_at:
        return 0
    actor = render_actor(account)
    document = {
        "@context": actor["@context"],
        "id": f"{actor['id']}#updates/{int(account.last_change_at.timestamp() * 1000)}",
        "type": "Update",
        "actor": actor["id"],
        "to": [PUBLIC],
        "object": {key: value for key, value in actor.items() if key != "@context"},
    }
    return queue_activity(account, document, follower_inboxes(account))


@background(queue="federation", priority=5)
def federate_account_moved(account_id: int) -> int:
    """Send ``Move`` to its followers' servers: they follow the new account instead."""
    account = _hosted(account_id)
    if account is None or account.moved_to is None:
        return 0
    target = account.moved_to
    uri = ids.actor_uri(account)
    document = {
        "@context": OBJECT_CONTEXT,
        "id": f"{uri}#moves/{target.pk}",
        "type": "Move",
        "actor": uri,
        "object": uri,
        "target": ids.actor_uri(target) if target.is_local else target.uri,
    }
    return queue_activity(account, document, follower_inboxes(account))
