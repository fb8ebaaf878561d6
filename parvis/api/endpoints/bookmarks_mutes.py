"""Bookmarks, mutes, domain blocks and conversations through the Mastodon client API.

What these record is private to the account: nothing is federated and nobody else learns
of it. So any role that writes for the account (an editor's token as well as a
publisher's) may change them, unlike likes, boosts, follows and blocks, which everyone
sees as the account's own acts (:mod:`parvis.api.endpoints.interactions`). They belong
to the account, not to the staff member holding the token: its whole team shares them,
as it shares notifications. Every write goes through :mod:`parvis.interactions.services`.

Known differences from Mastodon:

* Bookmarking a boost by its id is not found (404); Mastodon bookmarks the boosted
  status. Most clients act on the boosted status itself, whose id is in ``reblog``.
* ``POST /accounts/:id/mute`` reads its parameters from the body (JSON or form) only;
  ``duration`` is at most 2³¹−1 seconds (422 beyond, and when negative). Muting one's own
  account is ignored, as Parvis ignores blocking it. An expired mute mutes nothing and is
  left out of the list at once; its row stays until the account mutes or unmutes again.
* A domain block hides the accounts of that exact host (not its subdomains), compared
  with the host of their actor id. It does not remove the account's followers on that server,
  as Mastodon does: that sends a Reject to the other server, a public act of the account
  that only its publishers may decide. IP addresses and the domains hosted here are
  refused (422); so is ``DELETE /domain_blocks`` with a name that is no host name.
* Conversations are the threads of private messages (``direct``) received from other
  servers that mention the account, one per thread (its first known status is the
  conversation's id). Hosted accounts can neither write nor answer ``direct`` statuses,
  so the account's own statuses are never in them and ``unread`` only turns true with a
  message of someone else, as with Mastodon. Pages go by the id of the last status, as
  Mastodon's. The threads are worked out at each request from the messages' replies, a
  cost that grows with the number of private messages the account received (see
  ``_threads``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from parvis.api import schemas
from parvis.api.auth import Caller, OAuth
from parvis.api.endpoints.accounts import relationship_with
from parvis.api.endpoints.common import account_or_404, caller, path_id, status_or_404
from parvis.api.entities import ACCOUNT_RELATED, Renderer, iso
from parvis.api.errors import ApiError, not_found
from parvis.api.pagination import (
    ACCOUNTS_LIMIT,
    ACCOUNTS_MAXIMUM,
    Page,
    Window,
    link_between,
    link_header,
    paginate,
    window,
)
from parvis.api.params import MastodonParser
from parvis.api.visibility import visible
from parvis.identity.models import Account
from parvis.identity.services import Capability
from parvis.interactions import services as interactions
from parvis.interactions import threads
from parvis.interactions.models import (
    AccountDomainBlock,
    Block,
    Bookmark,
    ConversationState,
    Mute,
)
from parvis.interactions.threads import thread_roots
from parvis.publishing.models import Post, Visibility

router = Router(tags=["bookmarks_mutes"])
ERRORS = schemas.ERRORS
# Mastodon's page sizes: statuses and conversations 20 (40 at most), accounts 40 (80),
# domains 100 (200).
DOMAINS_LIMIT, DOMAINS_MAXIMUM = 100, 200
# The longest mute, in seconds (some 68 years, the largest 32-bit count): a bound, so that
# now + duration is always a date that Python and the databases can hold.
MAX_MUTE_SECONDS = 2**31 - 1
# The related rows an Account entity reads.


class MuteOptions(Schema):
    """``notifications``: mute them too (the default); ``duration``: seconds, 0 = forever."""

    notifications: bool | None = None
    duration: int | None = None


class MutedAccount(schemas.Account):
    """An Account of ``GET /mutes``, with the end of its mute (null: until unmuted)."""

    mute_expires_at: str | None = None


class Conversation(Schema):
    id: str
    unread: bool
    accounts: list[schemas.Account]
    last_status: schemas.Status | None = None


# ``domain`` is read by hand (see _domain_param); the OpenAPI document still says so.
_DOMAIN_BODY = {
    "type": "object",
    "properties": {"domain": {"type": "string", "maxLength": 253}},
    "required": ["domain"],
}
DOMAIN_PARAMETER = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _DOMAIN_BODY},
            "application/x-www-form-urlencoded": {"schema": _DOMAIN_BODY},
        },
    }
}


# --- shared ----------------------------------------------------------------------------


def private_actor(request: HttpRequest) -> tuple[Caller, Account]:
    """The caller and its account, when its role lets it write for the account.

    Bookmarks, mutes and the like are never seen by anyone else, so writing drafts is
    enough (no need to publish); a token whose staff member lost every role is refused.
    """
    call = caller(request)
    me = call.account
    assert me is not None  # OAuth() lets only tokens acting as an account through
    if Capability.WRITE_DRAFT not in call.capabilities:
        raise ApiError(403, _("Votre rôle sur ce compte ne permet pas de le modifier."))
    return call, me


def _validation(error: ValidationError) -> ApiError:
    return ApiError(
        422, _("Échec de la validation : %(problems)s") % {"problems": " ".join(error.messages)}
    )


# --- bookmarks -------------------------------------------------------------------------


@router.post(
    "/v1/statuses/{status_id}/bookmark",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:bookmarks"),
)
def bookmark(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Keep a status the account may see among its bookmarks; repeating it changes nothing."""
    call, me = private_actor(request)
    post = status_or_404(request, status_id)
    interactions.bookmark(me, post)
    return Renderer(request, call).status(post)


@router.post(
    "/v1/statuses/{status_id}/unbookmark",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:bookmarks"),
)
def unbookmark(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Drop a bookmark; a status not bookmarked is answered as it is."""
    call, me = private_actor(request)
    pk = path_id(status_id)
    post: Post | None
    if Bookmark.objects.filter(account=me, post_id=pk).exists():
        # One's own bookmark can be dropped once the status is out of sight (a follow
        # ended, its author blocked the account), as Mastodon allows.
        post = Renderer.joined(
            Post.objects.live().filter(pk=pk, account__suspended_at__isnull=True)
        ).first()
        if post is None:
            raise not_found()
    else:
        post = status_or_404(request, status_id)
    interactions.remove_bookmark(me, post)
    return Renderer(request, call).status(post)


def _thread_muting(request: HttpRequest, status_id: str, *, mute: bool) -> dict[str, Any]:
    call, me = private_actor(request)
    post = status_or_404(request, status_id)
    (threads.mute_thread if mute else threads.unmute_thread)(me, post)
    # The Renderer reads the account's muted threads: the answer says the new state.
    return Renderer(request, call).status(post)


@router.post(
    "/v1/statuses/{status_id}/mute",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:mutes"),
)
def mute_thread(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """No more notifications from the thread of a status; repeating it changes nothing."""
    return _thread_muting(request, status_id, mute=True)


@router.post(
    "/v1/statuses/{status_id}/unmute",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:mutes"),
)
def unmute_thread(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Notifications from the thread of a status again."""
    return _thread_muting(request, status_id, mute=False)


@router.get(
    "/v1/bookmarks",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:bookmarks"),
)
def bookmarks(
    request: HttpRequest, response: HttpResponse, page: Query[Page]
) -> list[dict[str, Any]]:
    """The statuses the account bookmarked and may still see, the latest bookmark first
    (pages go by the bookmark, as Mastodon's)."""
    call = caller(request)
    kept = Bookmark.objects.filter(
        account=call.account, post__in=visible(Post.objects.all(), call).values("pk")
    )
    found = paginate(kept, window(page))
    link_header(request, response, found)
    posts = Renderer.joined(Post.objects.filter(pk__in=[row.post_id for row in found]))
    by_pk = {post.pk: post for post in posts}
    return Renderer(request, call).statuses([by_pk[row.post_id] for row in found])


# --- mutes -----------------------------------------------------------------------------


@router.post(
    "/v1/accounts/{account_id}/mute",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:mutes"),
)
def mute(request: HttpRequest, account_id: str, options: MuteOptions) -> dict[str, Any]:
    """Mute an account: its statuses leave the home timeline and, unless
    ``notifications`` is false, its notifications the list; for ``duration`` seconds
    (0: until unmuted). Muting again replaces the options."""
    _call, me = private_actor(request)
    target = account_or_404(account_id)
    seconds = options.duration or 0
    if not 0 <= seconds <= MAX_MUTE_SECONDS:
        raise ApiError(
            422,
            _("duration doit être un nombre de secondes entre 0 et %(maximum)d.")
            % {"maximum": MAX_MUTE_SECONDS},
        )
    interactions.mute(
        me,
        target,
        notifications=options.notifications is not False,
        duration=timedelta(seconds=seconds) if seconds else None,
    )
    return relationship_with(me, target)


@router.post(
    "/v1/accounts/{account_id}/unmute",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:mutes"),
)
def unmute(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Lift a mute; an account not muted is no error."""
    _call, me = private_actor(request)
    target = account_or_404(account_id)
    interactions.unmute(me, target)
    return relationship_with(me, target)


@router.get(
    "/v1/mutes",
    response={200: list[MutedAccount], **ERRORS},
    auth=OAuth("read:mutes"),
)
def mutes(request: HttpRequest, response: HttpResponse, page: Query[Page]) -> list[dict[str, Any]]:
    """The accounts the account mutes now, the latest mute first (pages go by the mute)."""
    call = caller(request)
    rows = (
        Mute.objects.active()
        .filter(account=call.account, target__suspended_at__isnull=True)
        .select_related(*(f"target__{name}" for name in ACCOUNT_RELATED))
    )
    found = paginate(rows, window(page, default=ACCOUNTS_LIMIT, maximum=ACCOUNTS_MAXIMUM))
    link_header(request, response, found)
    renderer = Renderer(request, call)
    renderer.load_accounts(row.target for row in found)
    return [
        {
            # A copy: the renderer keeps its entity for other uses in the request.
            **renderer.account(row.target),
            "mute_expires_at": iso(row.expires_at) if row.expires_at else None,
        }
        for row in found
    ]


# --- domain blocks ---------------------------------------------------------------------


def _domain_param(request: HttpRequest) -> str:
    """``domain`` from the query string, a JSON body or a form.

    Read here rather than by a schema: Django leaves the form body of a DELETE unread,
    and Mastodon apps send ``DELETE /domain_blocks`` with one (Tusky, Mastodon.py).
    """
    value: Any = request.GET.get("domain")
    if value is None:
        if request.content_type == "application/json":
            value = MastodonParser().parse_body(request).get("domain")
        elif request.method == "POST":
            value = request.POST.get("domain")
        elif request.content_type == "application/x-www-form-urlencoded":
            value = QueryDict(request.body).get("domain")
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, _("Le paramètre domain est requis."))
    return value


@router.get(
    "/v1/domain_blocks",
    response={200: list[str], **ERRORS},
    auth=OAuth("read:blocks"),
)
def domain_blocks(request: HttpRequest, response: HttpResponse, page: Query[Page]) -> list[str]:
    """The domains the account hides, the latest first (pages go by the block)."""
    rows = AccountDomainBlock.objects.filter(account=caller(request).account)
    found = paginate(rows, window(page, default=DOMAINS_LIMIT, maximum=DOMAINS_MAXIMUM))
    link_header(request, response, found)
    return [row.domain for row in found]


@router.post(
    "/v1/domain_blocks",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:blocks"),
    openapi_extra=DOMAIN_PARAMETER,
)
def block_domain(request: HttpRequest) -> dict[str, Any]:
    """Hide the accounts of another server (``domain``, lower-cased); repeating it
    changes nothing."""
    _call, me = private_actor(request)
    try:
        interactions.block_domain(me, _domain_param(request))
    except ValidationError as error:
        raise _validation(error) from None
    return {}


@router.delete(
    "/v1/domain_blocks",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:blocks"),
    openapi_extra=DOMAIN_PARAMETER,
)
def unblock_domain(request: HttpRequest) -> dict[str, Any]:
    """Show a server's accounts again; a domain not hidden is no error."""
    _call, me = private_actor(request)
    try:
        interactions.unblock_domain(me, _domain_param(request))
    except ValidationError as error:
        raise _validation(error) from None
    return {}


# --- conversations ---------------------------------------------------------------------


@dataclass
class _Thread:
    """A conversation: the private messages of one thread the account received."""

    root: int
    messages: list[int]
    authors: set[int]
    last: int
    unread: bool


def _direct_messages(call: Caller) -> QuerySet[Post]:
    """The private messages to the account it may see, but for authors it blocks or
    whose server it hides (Mastodon drops those when they arrive)."""
    me = call.account
    return (
        visible(Post.objects.filter(visibility=Visibility.DIRECT), call)
        # visible() lets the account's own statuses through; it writes no direct ones.
        .exclude(account=me)
        .exclude(account__in=Block.objects.filter(account=me).values("target"))
        .exclude(
            account__remote_host__in=AccountDomainBlock.objects.filter(account=me).values("domain")
        )
    )


def _threads(call: Caller) -> list[_Thread]:
    """The account's conversations that it did not remove, the latest message first.

    Every private message of the account is read (three columns) to group them: Parvis
    stores no thread id on statuses. Should accounts receive many thousands, a column
    giving each status its thread's first status would make this one query a page.
    """
    rows = list(_direct_messages(call).values_list("pk", "in_reply_to_id", "account_id"))
    roots = thread_roots({pk: parent for pk, parent, _author in rows})
    grouped: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pk, _parent, author in rows:
        grouped[roots[pk]].append((pk, author))
    states = {s.root_post_id: s for s in ConversationState.objects.filter(account=call.account)}
    threads = []
    for root, messages in grouped.items():
        last = max(pk for pk, _author in messages)
        state = states.get(root)
        if state is not None and state.hidden_up_to is not None and last <= state.hidden_up_to:
            continue  # removed, and nothing came since
        read = state.read_up_to if state is not None else None
        threads.append(
            _Thread(
                root=root,
                messages=sorted(pk for pk, _author in messages),
                authors={author for _pk, author in messages},
                last=last,
                unread=read is None or last > read,
            )
        )
    threads.sort(key=lambda thread: thread.last, reverse=True)
    return threads


def _thread_page(threads: Sequence[_Thread], where: Window) -> list[_Thread]:
    """The page of ``threads`` (newest first), by the id of their last message."""
    rows = list(threads)
    if where.max_id is not None:
        rows = [t for t in rows if t.last < where.max_id]
    if where.since_id is not None:
        rows = [t for t in rows if t.last > where.since_id]
    if where.min_id is not None:
        # The ones just above min_id, newest first.
        return [t for t in rows if t.last > where.min_id][-where.limit :]
    return rows[: where.limit]


def _conversations(
    request: HttpRequest, call: Caller, threads: Iterable[_Thread]
) -> list[dict[str, Any]]:
    """The Conversation entities of ``threads``, in a few queries for the whole page."""
    threads = list(threads)
    me = call.account
    assert me is not None
    messages = [pk for thread in threads for pk in thread.messages]
    mentioned: dict[int, set[int]] = defaultdict(set)
    for post_id, account_id in Post.mentions.through.objects.filter(
        post_id__in=messages
    ).values_list("post_id", "account_id"):
        mentioned[post_id].add(account_id)
    # The participants: who wrote and who was addressed, but the account itself.
    participants = {
        thread.root: sorted(
            (thread.authors | {a for pk in thread.messages for a in mentioned[pk]}) - {me.pk}
        )
        for thread in threads
    }
    accounts = (
        Account.objects.select_related(*ACCOUNT_RELATED)
        .filter(suspended_at__isnull=True)
        .in_bulk({pk for ids in participants.values() for pk in ids})
    )
    renderer = Renderer(request, call)
    renderer.load_accounts(accounts.values())
    lasts = list(Renderer.joined(Post.objects.filter(pk__in=[t.last for t in threads])))
    statuses = {
        post.pk: entity for post, entity in zip(lasts, renderer.statuses(lasts), strict=True)
    }
    return [
        {
            "id": str(thread.root),
            "unread": thread.unread,
            "accounts": [
                renderer.account(accounts[pk]) for pk in participants[thread.root] if pk in accounts
            ],
            "last_status": statuses.get(thread.last),
        }
        for thread in threads
    ]


def _thread_or_404(call: Caller, conversation_id: str) -> tuple[_Thread, Post]:
    """The conversation of that id and its first status; 404 for any other id."""
    root = path_id(conversation_id)
    thread = next((t for t in _threads(call) if t.root == root), None)
    post = Post.objects.filter(pk=root).first() if thread is not None else None
    if thread is None or post is None:
        raise not_found()
    return thread, post


@router.get(
    "/v1/conversations",
    response={200: list[Conversation], **ERRORS},
    auth=OAuth("read:statuses"),
)
def conversations(
    request: HttpRequest, response: HttpResponse, page: Query[Page]
) -> list[dict[str, Any]]:
    """The account's private conversations, the latest message first."""
    call = caller(request)
    found = _thread_page(_threads(call), window(page))
    if found:
        link_between(request, response, found[0].last, found[-1].last)
    return _conversations(request, call, found)


@router.post(
    "/v1/conversations/{conversation_id}/read",
    response={200: Conversation, **ERRORS},
    auth=OAuth("write:conversations"),
)
def read_conversation(request: HttpRequest, conversation_id: str) -> dict[str, Any]:
    """Mark a conversation read (for the account's whole team) until a new message."""
    call, me = private_actor(request)
    thread, root = _thread_or_404(call, conversation_id)
    interactions.mark_conversation_read(me, root, thread.last)
    thread.unread = False
    return _conversations(request, call, [thread])[0]


@router.delete(
    "/v1/conversations/{conversation_id}",
    response={200: schemas.Empty, **ERRORS},
    auth=OAuth("write:conversations"),
)
def remove_conversation(request: HttpRequest, conversation_id: str) -> dict[str, Any]:
    """Remove a conversation from the list (its statuses stay) until a new message."""
    call, me = private_actor(request)
    thread, root = _thread_or_404(call, conversation_id)
    interactions.hide_conversation(me, root, thread.last)
    return {}
