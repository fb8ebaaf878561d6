"""Turning stored inbound activities into domain changes, once each.

The inbox view has checked the signature, that the signer is the actor and that
the activity lives on the actor's origin. Handlers, one per activity type, check
what only they can (the object is the actor's own, it concerns this server),
then call the domain services. Each returns a short outcome kept on the stored
activity, so staff can see what became of everything received.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from parvis.core.tasks import RetryPolicy, claim_rows, columns, drain
from parvis.federation import ids, outbox
from parvis.federation.models import InboundActivity, RemoteActor
from parvis.federation.origins import same_origin
from parvis.federation.remote import RemoteError, fetch_actor, fetch_object
from parvis.federation.vocab.actors import RECEIVED_TYPES
from parvis.federation.vocab.notes import NOTE_TYPES, NoteError, ParsedNote, owned_by, parse_note
from parvis.identity.models import Account
from parvis.identity.services import record_move
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Follow, Reaction
from parvis.moderation.services import file_report
from parvis.publishing.models import Post, Visibility
from parvis.publishing.received import (
    ReceivedContent,
    delete_received_post,
    edit_received_post,
    erase_account_posts,
    record_received_post,
)

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], RemoteActor], str]


def object_id(value: Any) -> str:
    """The id of an activity's ``object`` (given inline or as a URI)."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _local_account(uri: str) -> Account | None:
    """The hosted account whose actor id is ``uri``."""
    parts = urlsplit(uri)
    if not parts.path.startswith("/@") or "/" in parts.path[2:]:
        return None
    account = (
        Account.objects.select_related("domain")
        .filter(domain__name=(parts.hostname or "").lower(), handle=parts.path[2:].lower())
        .first()
    )
    return account if account is not None and ids.actor_uri(account) == uri else None


def find_post(uri: str) -> Post | None:
    """The post whose object id is ``uri``: a hosted one, or one received earlier."""
    if not uri:
        return None
    path = urlsplit(uri).path
    head, _slash, tail = path.rpartition("/")
    if tail.isdigit() and head.startswith("/@"):
        post = (
            Post.objects.local()
            .select_related("account__domain")
            .filter(pk=int(tail), account__handle=head[2:].lower())
            .first()
        )
        if post is not None and ids.note_uri(post) == uri:
            return post
        return None
    return Post.objects.by_uri(uri).select_related("account__domain").first()


# --- follows ---------------------------------------------------------------------


def handle_follow(activity: dict[str, Any], actor: RemoteActor) -> str:
    """Follow of a hosted account: accepted at once, or a request for a locked account."""
    target = _local_account(object_id(activity.get("object")))
    if target is None or target.suspended_at:
        return "follow of an unknown account"
    if Block.objects.filter(account=target, target=actor.account).exists():
        outbox.reject_follow(target, actor, object_id(activity))
        return "follow refused: the account blocks the actor"
    if target.frozen_at is not None and not Follow.objects.filter(
        follower=actor.account, target=target, state=Follow.State.ACCEPTED
    ):
        # A frozen account (mandate ended) keeps its followers but takes no new ones.
        outbox.reject_follow(target, actor, object_id(activity))
        return "follow refused: the account is frozen"
    follow = interactions.record_follow(
        actor.account, target, object_id(activity), approved=not target.locked
    )
    if follow.state == Follow.State.ACCEPTED:
        outbox.accept_follow(follow)
        return "follow accepted"
    return "follow request awaiting approval"


def _our_follow(activity: dict[str, Any], actor: RemoteActor) -> Follow | None:
    """The follow of ``actor`` by a hosted account that an Accept or Reject answers."""
    answered = activity.get("object")
    follows = Follow.objects.filter(target=actor.account, follower__domain__isnull=False)
    by_uri = follows.filter(uri=object_id(answered)).first() if object_id(answered) else None
    if by_uri is not None or not isinstance(answered, dict):
        return by_uri
    follower = _local_account(object_id(answered.get("actor")))
    return follows.filter(follower=follower).first() if follower else None


def handle_accept(activity: dict[str, Any], actor: RemoteActor) -> str:
    """The remote account accepted a hosted account's follow."""
    follow = _our_follow(activity, actor)
    if follow is None:
        return "accept of an unknown follow"
    interactions.accept_follow(follow)
    return "follow accepted by the remote account"


def handle_reject(activity: dict[str, Any], actor: RemoteActor) -> str:
    """The remote account refused (or removed) a hosted account's follow."""
    follow = _our_follow(activity, actor)
    if follow is None:
        return "reject of an unknown follow"
    follow.delete()
    return "follow rejected by the remote account"


def handle_block(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A remote account blocks a hosted one: follows between them end."""
    target = _local_account(object_id(activity.get("object")))
    if target is None:
        return "block of an unknown account"
    interactions.record_block(actor.account, target, object_id(activity))
    return "block recorded"


def handle_undo(activity: dict[str, Any], actor: RemoteActor) -> str:
    """Undo of the actor's own Follow, Like, Announce or Block."""
    undone = activity.get("object")
    undone_id = object_id(undone)
    kind = undone.get("type") if isinstance(undone, dict) else None
    account = actor.account
    follow = Follow.objects.filter(follower=account, uri=undone_id).first() if undone_id else None
    if follow is None and kind == "Follow" and isinstance(undone, dict):
        target = _local_account(object_id(undone.get("object")))
        follow = Follow.objects.filter(follower=account, target=target).first()
    if follow is not None:
        follow.delete()
        return "follow undone"
    if undone_id and interactions.remove_reaction(account, uri=undone_id):
        return "reaction undone"
    if kind in ("Like", "Announce") and isinstance(undone, dict):
        post = find_post(object_id(undone.get("object")))
        reaction = Reaction.Kind.FAVOURITE if kind == "Like" else Reaction.Kind.BOOST
        if post is not None and interactions.remove_reaction(account, post=post, kind=reaction):
            return "reaction undone"
    block = Block.objects.filter(account=account, uri=undone_id).first() if undone_id else None
    if block is None and kind == "Block" and isinstance(undone, dict):
        target = _local_account(object_id(undone.get("object")))
        block = Block.objects.filter(account=account, target=target).first()
    if block is not None:
        block.delete()
        return "block undone"
    return "undo of an unknown activity"


# --- reactions and reports -------------------------------------------------------


def _react(activity: dict[str, Any], actor: RemoteActor, kind: str) -> str:
    post = find_post(object_id(activity.get("object")))
    if post is None or not post.account.is_local:
        return f"{kind} of a post not hosted here"
    if post.visibility not in (Visibility.PUBLIC, Visibility.UNLISTED) and kind == "boost":
        return "boost of a post that is not public refused"
    if interactions.react(actor.account, post, kind, object_id(activity)) is None:
        return f"{kind} refused: blocked or deleted"
    return f"{kind} recorded"


def handle_like(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A like (favourite) of a hosted post."""
    return _react(activity, actor, Reaction.Kind.FAVOURITE)


def handle_announce(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A boost of a hosted post."""
    return _react(activity, actor, Reaction.Kind.BOOST)


def handle_flag(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A report from another server: into the moderation queue."""
    value = activity.get("object")
    uris = [object_id(v) for v in (value if isinstance(value, list) else [value])[:100]]
    accounts = [a for a in (_local_account(u) for u in uris) if a is not None]
    posts = [p for p in (find_post(u) for u in uris) if p is not None and p.account.is_local]
    target = accounts[0] if accounts else (posts[0].account if posts else None)
    if target is None:
        return "report about nothing hosted here"
    content = activity.get("content")
    file_report(
        target=target,
        reporter=actor.account,
        posts=posts,
        comment=content if isinstance(content, str) else "",
        uri=object_id(activity),
    )
    return "report filed"


# --- posts -----------------------------------------------------------------------


def _received_note(value: Any, actor: RemoteActor) -> ParsedNote:
    """The actor's own note: the embedded copy when it is on the actor's origin,
    else the copy fetched from the object's origin (checklist S8)."""
    uri = object_id(value)
    if not uri:
        raise NoteError("the activity has no object")
    if not isinstance(value, dict) or not same_origin(uri, actor.uri):
        try:
            value = fetch_object(uri)
        except RemoteError as error:
            raise NoteError(f"the object could not be fetched from its origin: {error}") from error
    note = parse_note(value)
    if not owned_by(note, actor.uri):
        raise NoteError(f"{note.uri} is not a post of {actor.uri}")
    return note


def received_content(note: ParsedNote, actor: RemoteActor, parent: Post | None) -> ReceivedContent:
    """What a note of ``actor`` records: its visibility read from its addressing, the
    hosted accounts and known remote ones it mentions, ``parent`` as the post it answers."""
    mentioned = [a for a in (_local_account(u) for u in note.mentions) if a is not None]
    known = Account.objects.remote().filter(uri__in=list(note.mentions)[:100]).exclude(uri="")
    if note.public:
        visibility = Visibility.PUBLIC if note.listed else Visibility.UNLISTED
    elif actor.followers_uri and actor.followers_uri in note.recipients:
        visibility = Visibility.FOLLOWERS
    else:
        visibility = Visibility.DIRECT
    return ReceivedContent(
        uri=note.uri,
        url=note.url,
        content_html=note.content_html,
        text=note.text,
        spoiler_text=note.summary,
        sensitive=note.sensitive,
        language=note.language,
        visibility=visibility,
        published_at=note.published,
        in_reply_to=parent,
        in_reply_to_uri="" if parent else note.in_reply_to,
        mentions=[*mentioned, *known],
        poll=note.poll,
    )


def handle_create(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A post that replies to or mentions a hosted account, or by an account followed here."""
    value = activity.get("object")
    if isinstance(value, dict) and value.get("type") not in NOTE_TYPES:
        return f"create of a {value.get('type')!r} not handled"
    note = _received_note(value, actor)
    parent = find_post(note.in_reply_to)
    addressed = any(_local_account(u) for u in (*note.mentions, *note.recipients))
    followed = Follow.objects.filter(
        target=actor.account, follower__domain__isnull=False, state=Follow.State.ACCEPTED
    ).exists()
    if not (addressed or followed or (parent is not None and parent.account.is_local)):
        return "post not addressed to this server: ignored"
    post = record_received_post(actor.account, received_content(note, actor, parent))
    if post is None:
        return "post already deleted"
    interactions.notify_post(post)
    return "post recorded"


def handle_update(activity: dict[str, Any], actor: RemoteActor) -> str:
    """An edited post, or a changed profile (re-fetched from its origin, checklist S10)."""
    value = activity.get("object")
    uri = object_id(value)
    kind = value.get("type") if isinstance(value, dict) else None
    if uri == actor.uri or kind in RECEIVED_TYPES:
        if uri != actor.uri:
            return "update of another actor refused"
        fetch_actor(actor.uri, refresh=True)
        return "profile refreshed"
    post = Post.objects.by_uri(uri).select_related("in_reply_to__account").first()
    if post is None:
        return "update of an unknown post"
    if post.account_id != actor.account_id:
        return "update of another actor's post refused"
    note = _received_note(value, actor)
    edit_received_post(post, received_content(note, actor, post.in_reply_to))
    return "post edited"


def handle_delete(activity: dict[str, Any], actor: RemoteActor) -> str:
    """A deleted post (remembered even before it arrives), or the actor itself."""
    uri = object_id(activity.get("object"))
    if uri == actor.uri:
        account = actor.account
        erase_account_posts(account)
        Follow.objects.filter(follower=account).delete()
        Follow.objects.filter(target=account).delete()
        Reaction.objects.filter(account=account).delete()
        Account.objects.filter(pk=account.pk).update(suspended_at=timezone.now())
        return "actor deleted"
    if not uri or not same_origin(uri, actor.uri):
        return "delete of an object on another origin refused"
    if not delete_received_post(actor.account, uri):
        return "delete of another actor's post refused"
    return "post deleted"


def handle_move(activity: dict[str, Any], actor: RemoteActor) -> str:
    """The actor moved: hosted accounts that followed it follow its new account."""
    if object_id(activity.get("object")) != actor.uri:
        return "move of another actor refused"
    target_uri = object_id(activity.get("target"))
    if not target_uri or target_uri == actor.uri:
        return "move without a target"
    new = fetch_actor(target_uri, refresh=True)
    if actor.uri not in new.also_known_as:
        return "move refused: the target does not name the actor in alsoKnownAs"
    record_move(actor.account, new.account)
    moved = interactions.move_followers(actor.account, new.account)
    return f"move recorded, {moved} follows moved"


HANDLERS: dict[str, Handler] = {
    "Follow": handle_follow,
    "Accept": handle_accept,
    "Reject": handle_reject,
    "Undo": handle_undo,
    "Block": handle_block,
    "Like": handle_like,
    "Announce": handle_announce,
    "Create": handle_create,
    "Update": handle_update,
    "Delete": handle_delete,
    "Move": handle_move,
    "Flag": handle_flag,
}


def _outcome(inbound: InboundActivity, actor: RemoteActor | RemoteError) -> str:
    handler = HANDLERS.get(inbound.kind)
    if handler is None:
        return f"{inbound.kind} not handled"
    # An Undo that arrived before what it undoes wins (checklist N2).
    if (
        inbound.kind != "Undo"
        and InboundActivity.objects.filter(
            kind="Undo", actor_uri=inbound.actor_uri, object_uri=inbound.uri
        ).exists()
    ):
        return "already undone"
    if isinstance(actor, RemoteError):
        return f"actor unavailable: {actor}"
    if actor.account.suspended_at:
        return "actor suspended: ignored"
    try:
        return handler(json.loads(inbound.body), actor)
    except (NoteError, RemoteError) as error:
        return f"refused: {error}"


# Claimed per batch: ~50 activities are a few hundred milliseconds of work, short
# enough that deliveries queued meanwhile (Accepts) are not held back long.
INBOUND_BATCH = 50
# An activity whose handling raised is tried again after these delays, then given up.
INBOUND_RETRY = RetryPolicy(max_attempts=6, first_delay=30.0, factor=4.0, max_delay=6 * 3600.0)
# Activities whose handling changes the actor itself: the batch's copy is then stale.
_ACTOR_CHANGING = frozenset({"Update", "Delete", "Move"})


@drain(queue="federation", batch=INBOUND_BATCH)
def process_inbound(limit: int) -> int:
    """Claim up to ``limit`` stored activities that are due, apply each once, in order of
    arrival; return how many were claimed."""
    claimed = _claim(limit)
    if not claimed:
        return 0
    actors: dict[str, RemoteActor | RemoteError] = {}
    rows = InboundActivity.objects.filter(pk__in=claimed, processed_at__isnull=True)
    for inbound in rows.order_by("pk"):
        try:
            if inbound.actor_uri not in actors:
                actors[inbound.actor_uri] = _actor_of(inbound.actor_uri)
            handle_inbound(inbound, actors[inbound.actor_uri])
        except Exception as exc:  # one bad activity must not stop the batch
            _failed(inbound, exc)
        if inbound.kind in _ACTOR_CHANGING:
            actors.pop(inbound.actor_uri, None)
    return len(claimed)


def handle_inbound(inbound: InboundActivity, actor: RemoteActor | RemoteError | None = None) -> str:
    """Apply one stored activity; a no-op (answering "already processed") if it was.

    ``actor`` is the activity's actor when the caller has it at hand.
    """
    if actor is None:
        # The actor is fetched (or read from cache) before the transaction: a slow
        # remote server must not hold the database's write lock (SQLite has one).
        actor = _actor_of(inbound.actor_uri)
    with transaction.atomic():
        pending = InboundActivity.objects.filter(pk=inbound.pk, processed_at__isnull=True)
        if not pending.select_for_update().values_list("pk", flat=True).first():
            return "already processed"
        outcome = _outcome(inbound, actor)[:255]
        pending.update(processed_at=timezone.now(), outcome=outcome, claimed_until=None)
        return outcome


def _actor_of(uri: str) -> RemoteActor | RemoteError:
    try:
        return fetch_actor(uri)
    except RemoteError as error:
        return error


def _claim(limit: int) -> list[int]:
    """Lease up to ``limit`` due activities, oldest first; their ids. A claim is an
    attempt."""
    now = timezone.now()
    pk, processed, until, attempts = columns(
        InboundActivity, "id", "processed_at", "claimed_until", "attempts"
    )
    adapt = connection.ops.adapt_datetimefield_value
    lease = adapt(now + timedelta(seconds=settings.PARVIS_TASK_LEASE_SECONDS))
    # "processed IS NULL" first and alone, so that both databases walk the partial
    # index of pending activities ("inbound_pending") in id order.
    return claim_rows(
        InboundActivity,
        assignments=f"{until} = %s, {attempts} = {attempts} + 1",
        assignment_params=[lease],
        where=f"{processed} IS NULL AND ({until} IS NULL OR {until} <= %s)",
        where_params=[adapt(now)],
        order_by=pk,
        limit=limit,
    )


def _failed(inbound: InboundActivity, error: Exception) -> None:
    """Put a failed activity back for a later try, or give it up after the last one."""
    attempt = inbound.attempts
    summary = f"{type(error).__name__}: {error}"
    pending = InboundActivity.objects.filter(pk=inbound.pk, processed_at__isnull=True)
    if attempt >= INBOUND_RETRY.max_attempts:
        logger.error("inbound activity %s given up after %d attempts", inbound.uri, attempt)
        pending.update(
            processed_at=timezone.now(), claimed_until=None, outcome=f"failed: {summary}"[:255]
        )
        return
    logger.warning("inbound activity %s failed (attempt %d): %s", inbound.uri, attempt, summary)
    pending.update(
        claimed_until=timezone.now() + INBOUND_RETRY.delay(attempt),
        outcome=f"attempt {attempt} failed: {summary}"[:255],
    )
