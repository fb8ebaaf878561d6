"""Favourites, reblogs, follows, blocks and follow requests through the Mastodon client API.

A token acts as its account with the rights of the staff member's role on it: liking,
boosting, following, blocking and answering follow requests are public acts of the
account, so they need the role that publishes (a publisher's token); an editor's token
may read these lists but is refused (403) any of these acts. Every act goes through
:mod:`parvis.interactions.services`, which writes the rows and the notifications and
emits the federation events.

Known differences from Mastodon:

* ``POST /statuses/:id/reblog`` answers the boost, a status of the account whose
  ``reblog`` is the original, as Mastodon does; its id is the boost's place in timelines
  (``Reaction.timeline_id``). ``visibility`` is ignored (a boost is public).
* Followers-only and direct statuses cannot be reblogged, the account's own included
  (Mastodon lets an author boost their own followers-only status): a boost federates
  publicly.
* Following an account of another server answers ``requested: true`` until it accepts,
  even when it is not locked (Mastodon shows ``following: true`` at once for these).
  ``reblogs``, ``notify`` and ``languages`` of a follow are ignored.
* ``favourited_by`` and ``reblogged_by`` accept a token with ``read:statuses``;
  ``followers``, ``following`` one with ``read:accounts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router

from parvis.api import schemas
from parvis.api.auth import ANYONE, Caller, OAuth
from parvis.api.endpoints.accounts import relationship_with
from parvis.api.endpoints.common import (
    account_or_404,
    caller,
    path_id,
    status_or_404,
    validation_failed,
)
from parvis.api.entities import ACCOUNT_RELATED, Renderer
from parvis.api.errors import ApiError, not_found
from parvis.api.pagination import (
    ACCOUNTS_LIMIT,
    ACCOUNTS_MAXIMUM,
    Page,
    link_header,
    paginate,
    window,
)
from parvis.api.visibility import visible
from parvis.identity.models import Account
from parvis.identity.services import Capability
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Follow, Reaction
from parvis.publishing import pins
from parvis.publishing.models import Post, Visibility

router = Router(tags=["interactions"])
ERRORS = schemas.ERRORS
# The related rows an Account entity reads, for the accounts of a page.


# --- shared ----------------------------------------------------------------------------


def acting_account(request: HttpRequest) -> tuple[Caller, Account]:
    """The caller and its account, when its role lets it act publicly as the account.

    Refused with 403 otherwise: a like, a boost or a follow is seen by everyone as the
    account's own act, which only the roles that publish may decide.
    """
    call = caller(request)
    me = call.account
    assert me is not None  # OAuth() lets only tokens acting as an account through
    if Capability.PUBLISH not in call.capabilities:
        raise ApiError(
            403, _("Votre rôle sur ce compte ne permet pas d'agir publiquement en son nom.")
        )
    return call, me


def _visible_status(request: HttpRequest, status_id: str) -> Post:
    """A status the caller may see; 404 also when its author blocks the caller's account,
    as Mastodon hides the statuses of an author who blocks you."""
    post = status_or_404(request, status_id)
    me = caller(request).account
    if me is not None and Block.objects.filter(account_id=post.account_id, target=me).exists():
        raise not_found()
    return post


def _account_page(
    request: HttpRequest,
    response: HttpResponse,
    rows: QuerySet[Any],
    page: Page,
    attribute: str,
) -> list[dict[str, Any]]:
    """A page of ``rows`` (reactions or follows) as the Account entities they point to.

    Pages go by the id of the row, not of the account, as Mastodon's do: an account
    liked or followed later comes later, and ``max_id`` names the row.
    """
    found: Sequence[Any] = paginate(
        rows.select_related(*(f"{attribute}__{name}" for name in ACCOUNT_RELATED)),
        window(page, default=ACCOUNTS_LIMIT, maximum=ACCOUNTS_MAXIMUM),
    )
    link_header(request, response, found)
    accounts = [getattr(row, attribute) for row in found]
    renderer = Renderer(request, caller(request))
    renderer.load_accounts(accounts)
    return [renderer.account(account) for account in accounts]


# --- favourites and reblogs ------------------------------------------------------------


def _react(request: HttpRequest, status_id: str, kind: str) -> dict[str, Any]:
    call, me = acting_account(request)
    post = _visible_status(request, status_id)
    if kind == Reaction.Kind.BOOST and post.visibility not in (
        Visibility.PUBLIC,
        Visibility.UNLISTED,
    ):
        # Mastodon hides what may not be boosted behind a 404.
        raise not_found()
    reaction = interactions.react(me, post, kind)
    if reaction is None:
        # The caller's account blocks the author (the other way was a 404 above).
        if kind == Reaction.Kind.BOOST:
            raise not_found()
        raise ApiError(403, _("Vous bloquez l'auteur de ce message."))
    renderer = Renderer(request, call)
    if kind == Reaction.Kind.BOOST:
        # Mastodon answers a reblog with the boost: the account's status around the other.
        reaction.account = me
        return renderer.boost(reaction, renderer.status(post))
    return renderer.status(post)


def _unreact(request: HttpRequest, status_id: str, kind: str) -> dict[str, Any]:
    call, me = acting_account(request)
    pk = path_id(status_id)
    post: Post | None
    if Reaction.objects.filter(account=me, post_id=pk, kind=kind).exists():
        # Taking back one's own like or boost stays possible once the status is out of
        # sight (its author blocked the account, a follow ended), as with Mastodon.
        post = Renderer.joined(
            Post.objects.live().filter(pk=pk, account__suspended_at__isnull=True)
        ).first()
        if post is None:
            raise not_found()
    else:
        post = _visible_status(request, status_id)
    interactions.remove_reaction(me, post=post, kind=kind)
    return Renderer(request, call).status(post)


@router.post(
    "/v1/statuses/{status_id}/favourite",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:favourites"),
)
def favourite(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Like a status as the token's account; repeating it changes nothing."""
    return _react(request, status_id, Reaction.Kind.FAVOURITE)


@router.post(
    "/v1/statuses/{status_id}/unfavourite",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:favourites"),
)
def unfavourite(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Take a like back; a status not liked is answered as it is."""
    return _unreact(request, status_id, Reaction.Kind.FAVOURITE)


@router.post(
    "/v1/statuses/{status_id}/reblog",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:statuses"),
)
def reblog(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Boost a status as the token's account; answered with the boost."""
    return _react(request, status_id, Reaction.Kind.BOOST)


@router.post(
    "/v1/statuses/{status_id}/unreblog",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:statuses"),
)
def unreblog(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Take a boost back; a status not boosted is answered as it is."""
    return _unreact(request, status_id, Reaction.Kind.BOOST)


def _pinning(request: HttpRequest, status_id: str, pin: bool) -> dict[str, Any]:
    call, me = acting_account(request)
    post = _visible_status(request, status_id)
    if post.account_id != me.pk:
        raise validation_failed([_("Seuls les messages du compte peuvent être épinglés.")])
    try:
        post = pins.pin_post(call.staff, post) if pin else pins.unpin_post(call.staff, post)  # type: ignore[arg-type]
    except ValidationError as error:
        raise validation_failed(error.messages) from None
    post.account = me
    return Renderer(request, call).status(post)


@router.post(
    "/v1/statuses/{status_id}/pin",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:accounts"),
)
def pin(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Pin one of the account's statuses to its profile (at most five)."""
    return _pinning(request, status_id, pin=True)


@router.post(
    "/v1/statuses/{status_id}/unpin",
    response={200: schemas.Status, **ERRORS},
    auth=OAuth("write:accounts"),
)
def unpin(request: HttpRequest, status_id: str) -> dict[str, Any]:
    """Take a status off the account's profile; one not pinned is answered as it is."""
    return _pinning(request, status_id, pin=False)


def _reacted_by(
    request: HttpRequest, response: HttpResponse, status_id: str, page: Page, kind: str
) -> list[dict[str, Any]]:
    post = _visible_status(request, status_id)
    reactions = Reaction.objects.filter(post=post, kind=kind, account__suspended_at__isnull=True)
    return _account_page(request, response, reactions, page, "account")


@router.get(
    "/v1/statuses/{status_id}/favourited_by",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def favourited_by(
    request: HttpRequest, response: HttpResponse, status_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts that liked a status, the latest like first."""
    return _reacted_by(request, response, status_id, page, Reaction.Kind.FAVOURITE)


@router.get(
    "/v1/statuses/{status_id}/reblogged_by",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:statuses", optional=True),
    openapi_extra=ANYONE,
)
def reblogged_by(
    request: HttpRequest, response: HttpResponse, status_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts that boosted a status, the latest boost first."""
    return _reacted_by(request, response, status_id, page, Reaction.Kind.BOOST)


@router.get(
    "/v1/favourites",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:favourites"),
)
def favourites(
    request: HttpRequest, response: HttpResponse, page: Query[Page]
) -> list[dict[str, Any]]:
    """The statuses the account liked, the latest like first (pages go by the like)."""
    call = caller(request)
    likes = Reaction.objects.filter(
        account=call.account,
        kind=Reaction.Kind.FAVOURITE,
        post__in=visible(Post.objects.all(), call).values("pk"),
    )
    found = paginate(likes, window(page))
    link_header(request, response, found)
    posts = Renderer.joined(Post.objects.filter(pk__in=[like.post_id for like in found]))
    by_pk = {post.pk: post for post in posts}
    return Renderer(request, call).statuses([by_pk[like.post_id] for like in found])


# --- follows and blocks ----------------------------------------------------------------


@router.post(
    "/v1/accounts/{account_id}/follow",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:follows"),
)
def follow(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Follow an account: at once when it is hosted here and not locked, else a request."""
    _call, me = acting_account(request)
    target = account_or_404(account_id)
    if target.pk == me.pk:
        raise not_found()  # as Mastodon answers
    if interactions.is_blocked(me, by=target):
        raise ApiError(403, _("Un blocage empêche cet abonnement."))
    if target.moved_to_id is not None:
        raise ApiError(403, _("Ce compte a déménagé ; suivez plutôt son nouveau compte."))
    existing = Follow.objects.filter(follower=me, target=target).first()
    if existing is None and target.frozen_at is not None:
        raise ApiError(403, _("Ce compte est gelé (fin de mandat) : il n'accepte plus d'abonnés."))
    if existing is None:
        if target.is_local:
            interactions.record_follow(me, target, "", approved=not target.locked)
        else:
            interactions.request_follow(me, target)
    elif existing.state == Follow.State.PENDING and target.is_local and not target.locked:
        # The account was unlocked since the request: nothing is left to wait for.
        interactions.record_follow(me, target, "", approved=True)
    return relationship_with(me, target)


@router.post(
    "/v1/accounts/{account_id}/unfollow",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:follows"),
)
def unfollow(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Stop following an account, or withdraw the request; nothing to end is no error."""
    _call, me = acting_account(request)
    target = account_or_404(account_id)
    interactions.unfollow(me, target)
    return relationship_with(me, target)


@router.post(
    "/v1/accounts/{account_id}/block",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:blocks"),
)
def block(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Block an account: the follows between the two end both ways."""
    _call, me = acting_account(request)
    target = account_or_404(account_id)
    if target.pk != me.pk:  # Mastodon ignores blocking yourself
        interactions.record_block(me, target)
    return relationship_with(me, target)


@router.post(
    "/v1/accounts/{account_id}/unblock",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:blocks"),
)
def unblock(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Lift a block; an account not blocked is no error."""
    _call, me = acting_account(request)
    target = account_or_404(account_id)
    interactions.remove_block(me, target)
    return relationship_with(me, target)


def _hides_lists_from(account: Account, call: Caller) -> bool:
    """Mastodon shows nobody's followers or follows to an account they block."""
    me = call.account
    return me is not None and Block.objects.filter(account=account, target=me).exists()


@router.get(
    "/v1/accounts/{account_id}/followers",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:accounts", optional=True),
    openapi_extra=ANYONE,
)
def followers(
    request: HttpRequest, response: HttpResponse, account_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts that follow an account (accepted follows only), the latest first."""
    target = account_or_404(account_id)
    follows = Follow.objects.filter(
        target=target, state=Follow.State.ACCEPTED, follower__suspended_at__isnull=True
    )
    if _hides_lists_from(target, caller(request)):
        follows = follows.none()
    return _account_page(request, response, follows, page, "follower")


@router.get(
    "/v1/accounts/{account_id}/following",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:accounts", optional=True),
    openapi_extra=ANYONE,
)
def following(
    request: HttpRequest, response: HttpResponse, account_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts an account follows (accepted follows only), the latest first."""
    follower = account_or_404(account_id)
    follows = Follow.objects.filter(
        follower=follower, state=Follow.State.ACCEPTED, target__suspended_at__isnull=True
    )
    if _hides_lists_from(follower, caller(request)):
        follows = follows.none()
    return _account_page(request, response, follows, page, "target")


# --- follow requests -------------------------------------------------------------------


@router.get(
    "/v1/follow_requests",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:follows"),
)
def follow_requests(
    request: HttpRequest, response: HttpResponse, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts waiting for the caller's account to let them follow it."""
    me = caller(request).account
    pending = Follow.objects.filter(
        target=me, state=Follow.State.PENDING, follower__suspended_at__isnull=True
    )
    return _account_page(request, response, pending, page, "follower")


def _pending_request(request: HttpRequest, account_id: str) -> tuple[Account, Follow]:
    """The caller's account and the pending request of ``account_id``; 404 without one."""
    _call, me = acting_account(request)
    follower = account_or_404(account_id)
    pending = (
        Follow.objects.select_related("follower", "target")
        .filter(follower=follower, target=me, state=Follow.State.PENDING)
        .first()
    )
    if pending is None:
        raise not_found()
    return me, pending


@router.post(
    "/v1/follow_requests/{account_id}/authorize",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:follows"),
)
def authorize_follow_request(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Let a pending follower in."""
    me, pending = _pending_request(request, account_id)
    interactions.approve_follow_request(pending)
    return relationship_with(me, pending.follower)


@router.post(
    "/v1/follow_requests/{account_id}/reject",
    response={200: schemas.Relationship, **ERRORS},
    auth=OAuth("write:follows"),
)
def reject_follow_request(request: HttpRequest, account_id: str) -> dict[str, Any]:
    """Turn a follow request down."""
    me, pending = _pending_request(request, account_id)
    interactions.refuse_follow_request(pending)
    return relationship_with(me, pending.follower)
