"""Actions between accounts, one function each; every one is safe to repeat.

The protocol adapters (the ActivityPub inbox today, the client API tomorrow)
call these after they have checked who acts; the functions write the rows and
the notifications together, and emit the events the adapters subscribe to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.core import events
from parvis.federation.origins import InvalidOrigin, normalise_host
from parvis.identity.lookups import hosted_domains
from parvis.identity.models import Account
from parvis.interactions import home, threads
from parvis.interactions.models import (
    AccountDomainBlock,
    Block,
    Bookmark,
    ConversationState,
    Follow,
    Mute,
    Notification,
    Reaction,
)
from parvis.publishing.models import Post


def notify(recipient: Account, kind: str, from_account: Account, post: Post | None = None) -> None:
    """Tell the team of ``recipient`` (a hosted account) once about this event."""
    if not recipient.is_local or recipient.pk == from_account.pk:
        return
    if Block.objects.filter(account=recipient, target=from_account).exists():
        return
    if post is not None and threads.is_muted(recipient, post):
        return
    Notification.objects.get_or_create(
        recipient=recipient, kind=kind, from_account=from_account, post=post
    )


def dismiss_notification(recipient: Account, notification_id: int) -> bool:
    """Remove one notification of ``recipient`` (for its whole team); False if none."""
    deleted, _detail = Notification.objects.filter(pk=notification_id, recipient=recipient).delete()
    return bool(deleted)


def dismiss_notifications(recipient: Account, notification_ids: Iterable[int]) -> int:
    """Remove notifications of ``recipient`` (for its whole team); how many there were."""
    deleted, _detail = Notification.objects.filter(
        pk__in=list(notification_ids), recipient=recipient
    ).delete()
    return deleted


def clear_notifications(recipient: Account) -> int:
    """Remove every notification of ``recipient``; how many there were."""
    deleted, _detail = Notification.objects.filter(recipient=recipient).delete()
    return deleted


def mark_notifications_read(recipient: Account, up_to: int | None = None) -> int:
    """Mark the unread notifications of ``recipient`` read (with ``up_to``, only those
    up to that id: an app's read marker); return how many."""
    unread = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if up_to is not None:
        unread = unread.filter(pk__lte=up_to)
    return unread.update(read_at=timezone.now())


def is_blocked(account: Account, by: Account) -> bool:
    """True when ``by`` blocks ``account`` (either way blocks interactions)."""
    return Block.objects.filter(
        Q(account=by, target=account) | Q(account=account, target=by)
    ).exists()


@transaction.atomic
def record_follow(follower: Account, target: Account, uri: str, *, approved: bool) -> Follow:
    """``follower`` asks to follow ``target``; accepted at once when ``approved``."""
    state = Follow.State.ACCEPTED if approved else Follow.State.PENDING
    follow, created = Follow.objects.get_or_create(
        follower=follower, target=target, defaults={"state": state, "uri": uri}
    )
    was_accepted = not created and follow.state == Follow.State.ACCEPTED
    if not created:
        # A repeated Follow (the remote lost our Accept) refreshes the id to echo.
        follow.uri = uri or follow.uri
        if approved:
            follow.state = Follow.State.ACCEPTED
        follow.save(update_fields=["uri", "state"])
    if approved and not was_accepted:
        home.fill_from(follower, target)
    kind = Notification.Kind.FOLLOW if approved else Notification.Kind.FOLLOW_REQUEST
    notify(target, kind, follower)
    return follow


@transaction.atomic
def request_follow(follower: Account, target: Account) -> Follow:
    """A hosted account follows another server's account; pending until it accepts."""
    follow, created = Follow.objects.get_or_create(follower=follower, target=target)
    if created:
        events.emit(events.FOLLOW_REQUESTED, follow_id=follow.pk)
    return follow


def accept_follow(follow: Follow) -> None:
    """The followed account accepted: its posts now reach the follower."""
    if (
        Follow.objects.filter(pk=follow.pk)
        .exclude(state=Follow.State.ACCEPTED)
        .update(state=Follow.State.ACCEPTED)
    ):
        home.fill_from(follow.follower, follow.target)
    follow.state = Follow.State.ACCEPTED


@transaction.atomic
def approve_follow_request(follow: Follow) -> None:
    """The team of a locked account lets a pending follower in."""
    if follow.state == Follow.State.ACCEPTED:
        return
    accept_follow(follow)
    notify(follow.target, Notification.Kind.FOLLOW, follow.follower)
    events.emit(events.FOLLOW_APPROVED, follow_id=follow.pk)


@transaction.atomic
def refuse_follow_request(follow: Follow) -> None:
    """The team of a locked account turns a follow request down (or removes a follower)."""
    events.emit(
        events.FOLLOW_REFUSED,
        target_id=follow.target_id,
        follower_id=follow.follower_id,
        uri=follow.uri,
    )
    home.forget(follow.follower, follow.target)
    follow.delete()


@transaction.atomic
def unfollow(follower: Account, target: Account) -> bool:
    """End the follow (whatever its state); True when there was one."""
    follow = Follow.objects.filter(follower=follower, target=target).first()
    if follow is None:
        return False
    if follower.is_local and not target.is_local:
        events.emit(
            events.FOLLOW_ENDED, follower_id=follower.pk, target_id=target.pk, uri=follow.uri
        )
    home.forget(follower, target)
    follow.delete()
    return True


@transaction.atomic
def record_block(account: Account, target: Account, uri: str = "") -> Block:
    """``account`` blocks ``target``: follows between them end both ways."""
    block, created = Block.objects.get_or_create(
        account=account, target=target, defaults={"uri": uri}
    )
    Follow.objects.filter(
        Q(follower=account, target=target) | Q(follower=target, target=account)
    ).delete()
    home.forget(account, target)
    home.forget(target, account)
    if created and account.is_local and not target.is_local:
        # The other server drops the follows on its side too when it learns of the block.
        events.emit(events.BLOCK_ADDED, block_id=block.pk)
    return block


@transaction.atomic
def remove_block(account: Account, target: Account) -> bool:
    """``account`` no longer blocks ``target``."""
    block = Block.objects.filter(account=account, target=target).first()
    if block is None:
        return False
    if account.is_local and not target.is_local:
        events.emit(
            events.BLOCK_REMOVED,
            account_id=account.pk,
            target_id=target.pk,
            block_id=block.pk,
            uri=block.uri,
        )
    block.delete()
    return True


@transaction.atomic
def react(account: Account, post: Post, kind: str, uri: str = "") -> Reaction | None:
    """``account`` likes or boosts ``post``; None when a block forbids it."""
    if is_blocked(account, by=post.account) or post.deleted_at is not None:
        return None
    reaction, created = Reaction.objects.get_or_create(
        kind=kind, account=account, post=post, defaults={"uri": uri}
    )
    if created:
        if kind == Reaction.Kind.BOOST:
            home.deliver_boost(reaction)
        notification = (
            Notification.Kind.FAVOURITE
            if kind == Reaction.Kind.FAVOURITE
            else Notification.Kind.BOOST
        )
        notify(post.account, notification, account, post)
        if account.is_local:
            # The post's author (and, for a boost, the account's followers) hear of it.
            events.emit(events.REACTION_ADDED, reaction_id=reaction.pk)
    return reaction


@transaction.atomic
def remove_reaction(
    account: Account, *, uri: str = "", post: Post | None = None, kind: str = ""
) -> bool:
    """Undo a like or boost, found by its activity id or by post and kind."""
    reactions = Reaction.objects.filter(account=account)
    if uri:
        reactions = reactions.filter(uri=uri)
    elif post is not None and kind:
        reactions = reactions.filter(post=post, kind=kind)
    else:
        return False
    if account.is_local:
        for reaction in reactions:
            events.emit(
                events.REACTION_REMOVED,
                account_id=account.pk,
                post_id=reaction.post_id,
                kind=reaction.kind,
                reaction_id=reaction.pk,
                uri=reaction.uri,
            )
    removed, _detail = reactions.delete()
    return bool(removed)


def notify_post(post: Post) -> int:
    """Notify the hosted accounts a received post mentions or replies to."""
    recipients = {a.pk: a for a in post.mentions.all() if a.is_local}
    parent = post.in_reply_to
    if parent is not None and parent.account.is_local:
        recipients.setdefault(parent.account_id, parent.account)
    for recipient in recipients.values():
        notify(recipient, Notification.Kind.MENTION, post.account, post)
    return len(recipients)


@transaction.atomic
def move_followers(old: Account, new: Account) -> int:
    """``old`` moved to ``new``: hosted accounts that followed ``old`` follow ``new``."""
    moved = 0
    for follow in Follow.objects.filter(target=old).select_related("follower"):
        follower = follow.follower
        if not follower.is_local or is_blocked(follower, by=new):
            continue
        unfollow(follower, old)
        request_follow(follower, new)
        notify(follower, Notification.Kind.MOVE, old)
        moved += 1
    return moved


def visible_replies(post: Post, limit: int = 100) -> list[Post]:
    """Replies shown under ``post``: public ones, oldest first, without blocked authors."""
    blocked = Block.objects.filter(account_id=post.account_id).values("target")
    return list(
        Post.objects.replies_shown()
        .filter(in_reply_to_id=post.pk)
        .exclude(account__in=blocked)
        .select_related("account__domain")
        .order_by("id")[:limit]
    )


# --- what an account keeps to itself: bookmarks, mutes, domain blocks, conversations ---
#
# None of these is federated or shown to anyone: the other side never learns of them.


@transaction.atomic
def bookmark(account: Account, post: Post) -> Bookmark:
    """``account`` keeps ``post`` among its bookmarks (once, however often asked)."""
    found, _created = Bookmark.objects.get_or_create(account=account, post=post)
    return found


def remove_bookmark(account: Account, post: Post) -> bool:
    """``account`` drops ``post`` from its bookmarks; False when it was not there."""
    deleted, _detail = Bookmark.objects.filter(account=account, post=post).delete()
    return bool(deleted)


@transaction.atomic
def mute(
    account: Account,
    target: Account,
    *,
    notifications: bool = True,
    duration: timedelta | None = None,
) -> Mute | None:
    """``account`` mutes ``target`` for ``duration`` (None: until unmuted); None when
    ``target`` is ``account`` itself, which nobody mutes.

    Muting again replaces the options and the end of an existing mute (an expired one
    included), keeping its row, and so its place in the list of mutes, as Mastodon does.
    """
    if account.pk == target.pk:
        return None
    expires_at = timezone.now() + duration if duration else None
    found, _created = Mute.objects.update_or_create(
        account=account,
        target=target,
        defaults={"notifications": notifications, "expires_at": expires_at},
    )
    return found


def unmute(account: Account, target: Account) -> bool:
    """``account`` no longer mutes ``target``; False when it did not."""
    deleted, _detail = Mute.objects.filter(account=account, target=target).delete()
    return bool(deleted)


def muted_accounts(account: Account, *, notifications: bool = False) -> QuerySet[Any]:
    """The ids (a subquery) of the accounts ``account`` mutes now; with ``notifications``,
    only those whose notifications are muted too."""
    mutes = Mute.objects.active().filter(account=account)
    if notifications:
        mutes = mutes.filter(notifications=True)
    return mutes.values("target")


def domain_to_block(domain: str) -> str:
    """``domain`` as it is stored and compared with ``Account.remote_host`` (lower-case
    IDNA, no trailing dot); ValidationError when it is not a host name."""
    text = domain.strip() if isinstance(domain, str) else ""
    try:
        host = normalise_host(text) if text else ""
    except InvalidOrigin:
        host = ""
    # A host name, not an address: "1.2.3.4" passes normalise_host (URLs may hold one).
    if not host or _is_ip(host):
        raise ValidationError(
            _("« %(domain)s » n'est pas un nom de domaine.") % {"domain": text[:100]},
            code="invalid_domain",
        )
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@transaction.atomic
def block_domain(account: Account, domain: str) -> AccountDomainBlock:
    """``account`` hides the accounts of the server ``domain``; ValidationError when it is
    not a host name or is one of the domains hosted here (an account hiding its own
    server would hide its own colleagues, and nothing would reach it any more)."""
    host = domain_to_block(domain)
    if host in hosted_domains():
        raise ValidationError(
            _("« %(domain)s » est un domaine de ce serveur : il ne peut pas être masqué.")
            % {"domain": host},
            code="hosted_domain",
        )
    found, _created = AccountDomainBlock.objects.get_or_create(account=account, domain=host)
    return found


def unblock_domain(account: Account, domain: str) -> bool:
    """``account`` shows the server ``domain`` again; False when it was not hidden.
    ValidationError when ``domain`` is not a host name."""
    host = domain_to_block(domain)
    deleted, _detail = AccountDomainBlock.objects.filter(account=account, domain=host).delete()
    return bool(deleted)


@transaction.atomic
def mark_conversation_read(account: Account, root_post: Post, up_to: int) -> ConversationState:
    """``account`` read the private thread of ``root_post`` up to the message ``up_to``."""
    state, _created = ConversationState.objects.get_or_create(account=account, root_post=root_post)
    if state.read_up_to is None or state.read_up_to < up_to:
        state.read_up_to = up_to
        state.save(update_fields=["read_up_to"])
    return state


@transaction.atomic
def hide_conversation(account: Account, root_post: Post, up_to: int) -> ConversationState:
    """``account`` removes the private thread of ``root_post`` from its conversations,
    until a message newer than ``up_to`` arrives in it; the messages stay."""
    state, _created = ConversationState.objects.get_or_create(account=account, root_post=root_post)
    if state.hidden_up_to is None or state.hidden_up_to < up_to:
        state.hidden_up_to = up_to
        state.save(update_fields=["hidden_up_to"])
    return state
