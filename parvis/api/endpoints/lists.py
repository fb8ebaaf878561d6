"""Lists, their members and their timelines through the Mastodon client API.

Lists belong to the token's account, not to the staff member holding the token: the whole
team of the account shares them, as it shares the account's notifications. Another
account's list is not found (404), whoever asks. Reading needs only the scope; changing
them needs a role that writes for the account (an editor or a publisher), since they shape
what the whole team reads; a moderator's token gets 403. Request bodies are JSON or forms,
read as Rails reads them (:class:`parvis.api.params.SettingsWriter`).

The members of an exclusive list are read in that list only: the home timeline leaves out
their statuses and boosts. A list timeline applies the account's filters of the home
context, as Mastodon does.

Known differences from Mastodon:

* Adding an account the list's owner does not follow (nor asked to follow) answers 422,
  with the account named (Mastodon answers 404); an account already in the list 422, as
  Mastodon; an id that is no account, or a suspended one, 404. The owner may add itself,
  as on Mastodon.
* A list holds accounts while the follow lasts: unfollowing, a block or a refused
  request takes them out of the owner's lists. An account that moves does not take its
  place in lists to its new account.
* The replies policy applies when the list timeline is read, not when statuses arrive:
  changing it changes the whole timeline at once.
* A status hidden by a filter leaves a page of the list timeline shorter than ``limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from parvis.api import models, schemas
from parvis.api.auth import OAuth
from parvis.api.endpoints.common import (
    account_or_404,
    boosts_of_visible,
    caller,
    own_account,
    path_id,
    timeline_page,
    validation_failed,
)
from parvis.api.endpoints.filters import filter_results
from parvis.api.entities import Renderer
from parvis.api.errors import ApiError, not_found
from parvis.api.pagination import (
    ACCOUNTS_LIMIT,
    ACCOUNTS_MAXIMUM,
    Page,
    link_header,
    paginate,
    window,
)
from parvis.api.params import SettingsWriter
from parvis.identity.models import Account
from parvis.interactions.models import Follow
from parvis.publishing.models import Post, Visibility

router = Router(tags=["lists"])
ERRORS = schemas.ERRORS
WRITE_ERRORS = schemas.WRITE_ERRORS

# Mastodon's limit of lists per account.
MAX_LISTS = 50
MAX_TITLE = 256

RepliesPolicy = models.List.RepliesPolicy
Context = models.Filter.Context


class List(Schema):
    id: str
    title: str
    replies_policy: str
    exclusive: bool


def _list(row: models.List) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "title": row.title,
        "replies_policy": row.replies_policy,
        "exclusive": row.exclusive,
    }


def _invalid(problem: str) -> ApiError:
    return validation_failed([problem])


def _title(value: str) -> str:
    """A title, trimmed; 422 when blank or too long."""
    title = value.strip()
    if not title:
        raise _invalid(_("le titre est vide."))
    if len(title) > MAX_TITLE:
        raise _invalid(_("le titre dépasse %(max)d caractères.") % {"max": MAX_TITLE})
    return title


def _ids(values: Sequence[str | int]) -> list[int]:
    """Ids from a body; one that is not an id is not found, as in a path."""
    return [path_id(str(value)) for value in values]


def _body_ids(request: HttpRequest, values: Sequence[str | int]) -> list[int]:
    """``account_ids[]`` of the body, or of the query string when the body has none (apps
    send DELETE requests with their parameters in the URL)."""
    if values:
        return _ids(values)
    return _ids([*request.GET.getlist("account_ids[]"), *request.GET.getlist("account_ids")])


class NewList(Schema):
    title: str
    replies_policy: str = RepliesPolicy.LIST
    exclusive: bool = False


class ListChanges(Schema):
    title: str | None = None
    replies_policy: str | None = None
    exclusive: bool | None = None


class AccountIds(Schema):
    account_ids: list[str | int] = []


def _replies_policy(value: str) -> str:
    if value not in RepliesPolicy.values:
        raise _invalid(
            _("« %(value)s » n'est pas une valeur de replies_policy (followed, list, none).")
            % {"value": value[:40]}
        )
    return value


def _own_list(request: HttpRequest, list_id: str) -> models.List:
    row = models.List.objects.filter(pk=path_id(list_id), account=own_account(request)).first()
    if row is None:
        raise not_found()
    return row


@router.get("/v1/lists", response={200: list[List], **ERRORS}, auth=OAuth("read:lists"))
def get_lists(request: HttpRequest) -> list[dict[str, Any]]:
    """The account's lists, oldest first."""
    return [
        _list(row)
        for row in models.List.objects.filter(account=own_account(request)).order_by("pk")
    ]


@router.post("/v1/lists", response={200: List, **WRITE_ERRORS}, auth=SettingsWriter("write:lists"))
def create_list(request: HttpRequest, data: NewList) -> dict[str, Any]:
    """A new list, empty."""
    me = own_account(request)
    title = _title(data.title)
    policy = _replies_policy(data.replies_policy)
    if models.List.objects.filter(account=me).count() >= MAX_LISTS:
        raise _invalid(_("un compte a au plus %(max)d listes.") % {"max": MAX_LISTS})
    row = models.List.objects.create(
        account=me, title=title, replies_policy=policy, exclusive=data.exclusive
    )
    return _list(row)


@router.get("/v1/lists/{list_id}", response={200: List, **ERRORS}, auth=OAuth("read:lists"))
def get_list(request: HttpRequest, list_id: str) -> dict[str, Any]:
    """One of the account's lists."""
    return _list(_own_list(request, list_id))


@router.put(
    "/v1/lists/{list_id}", response={200: List, **WRITE_ERRORS}, auth=SettingsWriter("write:lists")
)
def update_list(request: HttpRequest, list_id: str, data: ListChanges) -> dict[str, Any]:
    """Rename a list, or change which replies it shows or whether it is exclusive."""
    row = _own_list(request, list_id)
    if data.title is not None:
        row.title = _title(data.title)
    if data.replies_policy is not None:
        row.replies_policy = _replies_policy(data.replies_policy)
    if data.exclusive is not None:
        row.exclusive = data.exclusive
    row.save(update_fields=["title", "replies_policy", "exclusive"])
    return _list(row)


@router.delete(
    "/v1/lists/{list_id}",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:lists"),
)
def delete_list(request: HttpRequest, list_id: str) -> dict[str, Any]:
    """Delete a list; the accounts in it stay followed."""
    _own_list(request, list_id).delete()
    return {}


@router.get(
    "/v1/lists/{list_id}/accounts",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:lists"),
)
def list_accounts(
    request: HttpRequest, response: HttpResponse, list_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The accounts of a list, by account id (the largest first); ``limit=0``: all."""
    members = models.ListMember.objects.filter(
        list=_own_list(request, list_id), account__suspended_at__isnull=True
    ).select_related("account__domain", "account__institution")
    if page.limit == "0":
        # Mastodon's way to ask for the whole list at once, without pages.
        found: Sequence[models.ListMember] = list(members.order_by("-account_id"))
    else:
        found = paginate(
            members, window(page, default=ACCOUNTS_LIMIT, maximum=ACCOUNTS_MAXIMUM), "account_id"
        )
        link_header(request, response, found, "account_id")
    renderer = Renderer(request, caller(request))
    accounts = [member.account for member in found]
    renderer.load_accounts(accounts)
    return [renderer.account(account) for account in accounts]


@router.post(
    "/v1/lists/{list_id}/accounts",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:lists"),
)
def add_list_accounts(request: HttpRequest, list_id: str, data: AccountIds) -> dict[str, Any]:
    """Add accounts the list's owner follows (or asked to follow), or the owner itself;
    all of them or none."""
    row = _own_list(request, list_id)
    wanted = list(dict.fromkeys(_body_ids(request, data.account_ids)))
    if not wanted:
        raise _invalid(_("account_ids est vide."))
    accounts = Account.objects.filter(pk__in=wanted, suspended_at__isnull=True).in_bulk()
    if len(accounts) != len(wanted):
        raise not_found()
    follows: dict[int, Follow | None] = {
        follow.target_id: follow
        for follow in Follow.objects.filter(follower=row.account, target__in=wanted)
    }
    # Mastodon lets an account put itself in its own lists, with no follow.
    follows[row.account_id] = None
    for pk in wanted:
        if pk not in follows:
            raise _invalid(
                _("%(acct)s n'est pas suivi par ce compte.") % {"acct": accounts[pk].acct}
            )
    if models.ListMember.objects.filter(list=row, account__in=wanted).exists():
        raise _invalid(_("un de ces comptes est déjà dans la liste."))
    try:
        with transaction.atomic():
            models.ListMember.objects.bulk_create(
                models.ListMember(list=row, account_id=pk, follow=follows[pk]) for pk in wanted
            )
    except IntegrityError:
        # The same accounts were added by a concurrent request, or the follow just ended.
        raise _invalid(_("un de ces comptes est déjà dans la liste.")) from None
    return {}


@router.delete(
    "/v1/lists/{list_id}/accounts",
    response={200: schemas.Empty, **WRITE_ERRORS},
    auth=SettingsWriter("write:lists"),
)
def remove_list_accounts(request: HttpRequest, list_id: str, data: AccountIds) -> dict[str, Any]:
    """Take accounts out of a list; one that is not in it is no error."""
    row = _own_list(request, list_id)
    models.ListMember.objects.filter(
        list=row, account__in=_body_ids(request, data.account_ids)
    ).delete()
    return {}


@router.get(
    "/v1/accounts/{account_id}/lists",
    response={200: list[List], **ERRORS},
    auth=OAuth("read:lists"),
)
def lists_with_account(request: HttpRequest, account_id: str) -> list[dict[str, Any]]:
    """The caller's lists that hold an account."""
    account = account_or_404(account_id)
    rows = models.List.objects.filter(account=own_account(request), members__account=account)
    return [_list(row) for row in rows.order_by("pk")]


def list_posts(owner_list: models.List) -> tuple[QuerySet[Post], Q]:
    """The statuses a list shows, and the condition its boosts meet.

    As in home: the members' public, unlisted and (when the follow is accepted, or the
    member is the owner) followers-only statuses. A reply shows when it answers its own
    author or the list's owner, and otherwise as ``replies_policy`` says: replies to any
    account the owner follows, to members of the list, or none.
    """
    owner = owner_list.account
    members = models.ListMember.objects.filter(list=owner_list).values("account")
    accepted = Follow.objects.filter(follower=owner, state=Follow.State.ACCEPTED).values("target")
    shown_replies = (
        Q(in_reply_to__isnull=True)
        | Q(in_reply_to__account=F("account"))
        | Q(in_reply_to__account=owner)
    )
    if owner_list.replies_policy == RepliesPolicy.FOLLOWED:
        shown_replies |= Q(in_reply_to__account__in=accepted)
    elif owner_list.replies_policy == RepliesPolicy.LIST:
        shown_replies |= Q(in_reply_to__account__in=members)
    posts = Post.objects.filter(
        Q(visibility__in=(Visibility.PUBLIC, Visibility.UNLISTED))
        | Q(Q(account__in=accepted) | Q(account=owner), visibility=Visibility.FOLLOWERS),
        shown_replies,
        account__in=members,
        deleted_at__isnull=True,
        account__suspended_at__isnull=True,
    )
    # Others' boosts of the owner's own statuses stay out, as in home.
    boosts = Q(account__in=members) & ~(Q(post__account=owner) & ~Q(account=owner))
    return posts, boosts


@router.get(
    "/v1/timelines/list/{list_id}",
    response={200: list[schemas.Status], **ERRORS},
    auth=OAuth("read:lists"),
)
def list_timeline(
    request: HttpRequest, response: HttpResponse, list_id: str, page: Query[Page]
) -> list[dict[str, Any]]:
    """The statuses and boosts of a list's members, newest first, with the account's
    filters of the home context applied (Mastodon's context for lists too)."""
    posts, boosts = list_posts(_own_list(request, list_id))
    statuses = timeline_page(
        request, response, posts, boosts_of_visible(caller(request)).filter(boosts), page
    )
    return filter_results(own_account(request), statuses, context=Context.HOME)
