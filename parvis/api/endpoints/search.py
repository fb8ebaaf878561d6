"""Search: ``GET /api/v2/search`` and ``GET /api/v1/accounts/search``.

They find accounts (by name or address, accents ignored), statuses the caller may see (by
text) and hashtags (by the start of their name). With ``resolve=true`` and a token, an
address (``user@server``) or a URL is looked up through federation (WebFinger, the actor
or the post fetched from its own origin) and answered when found; a failed look-up
answers no result.

Known differences from Mastodon:

* Statuses are searched by their text (``contains``, case ignored, accents not) among
  all the statuses the caller may see, without a full-text index, newest first.
  Anonymous callers get no statuses, as on Mastodon.
* A status found by ``resolve`` is stored only when it is public or unlisted (Parvis
  cannot know who may see another server's private post).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urldefrag, urlsplit

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Length
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from parvis.api import schemas
from parvis.api.auth import ANYONE, Caller, OAuth
from parvis.api.endpoints.common import TagWithHistory, account_or_404, caller, followed_by
from parvis.api.entities import ACCOUNT_RELATED, Renderer
from parvis.api.errors import ApiError
from parvis.api.pagination import ACCOUNTS_LIMIT, ACCOUNTS_MAXIMUM, Page, window
from parvis.api.visibility import visible
from parvis.core.text import fold, normalize_hashtag
from parvis.core.urls import canonical_port
from parvis.federation.inbox import find_post, received_content
from parvis.federation.management.addresses import named_account
from parvis.federation.models import BlockedDomain
from parvis.federation.origins import InvalidOrigin, origin, same_origin
from parvis.federation.remote import RemoteError, fetch_actor, fetch_object, get_json
from parvis.federation.vocab.actors import RECEIVED_TYPES
from parvis.federation.vocab.notes import NOTE_TYPES, owned_by, parse_note
from parvis.identity.lookups import hosted_domains
from parvis.identity.models import Account
from parvis.interactions.models import Block
from parvis.publishing.models import Hashtag, Post, Visibility
from parvis.publishing.received import record_received_post

logger = logging.getLogger(__name__)

router = Router(tags=["search"])
ERRORS = schemas.ERRORS

# Mastodon's limits: 20 results per kind for /v2/search (at most 40), 40 accounts for
# /v1/accounts/search (at most 80).
SEARCH_LIMIT = 20
SEARCH_MAXIMUM = 40
SEARCH_KINDS = ("accounts", "statuses", "hashtags")
# An offset past this is no search any person does, and costs a long scan.
MAX_OFFSET = 10_000
# ``user@server[:port]``, with or without the leading ``@``.
_ADDRESS = re.compile(r"@?([^@\s/]+)@([^@\s/]+)")
_HASHTAG_NAME = re.compile(r"\w+")
# A hosted account's page and a hosted post's page: ``/@handle`` and ``/@handle/123``.
_HOSTED_PATH = re.compile(r"/@([^/]+)(?:/([0-9]{1,19}))?/?")
# What a failed look-up of another server's account or post may raise: the remote
# document is outside Parvis's control, and a search that cannot resolve it answers
# nothing rather than an error.
_RESOLUTION_ERRORS = (RemoteError, CommandError, InvalidOrigin, ValueError, DatabaseError)


# --- schemas ---------------------------------------------------------------------------


class SearchResults(Schema):
    accounts: list[schemas.Account]
    statuses: list[schemas.Status]
    hashtags: list[TagWithHistory]


class SearchParams(Page):
    q: str | None = None
    type: str | None = None
    resolve: bool = False
    following: bool = False
    account_id: str | None = None
    exclude_unreviewed: bool = False
    offset: str | None = None


class AccountSearchParams(Schema):
    q: str | None = None
    limit: str | None = None
    offset: str | None = None
    resolve: bool = False
    following: bool = False


# --- reading the query and URLs ----------------------------------------------------------


def _number(value: str | None, name: str, maximum: int) -> int:
    """A non-negative number of the query (0 when absent); 400 otherwise, as Mastodon."""
    if value is None or value == "":
        return 0
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ApiError(
            400,
            _("%(name)s doit être un nombre positif : %(value)s")
            % {"name": name, "value": text[:40]},
        )
    return min(int(text), maximum)


def _query(value: str | None) -> str:
    """The search terms; 400 when ``q`` is missing, as Mastodon (blank finds nothing)."""
    if value is None:
        raise ApiError(400, _("Le paramètre q est manquant."))
    return value.strip()


def _our_port(port: int) -> bool:
    """Whether ``port`` is one the hosted domains answer on (their canonical port, or a
    scheme's default one, which the server redirects from)."""
    return str(port) == canonical_port() or port in (80, 443)


def _hosted_url(url: str) -> bool:
    """Whether ``url`` points at this server: it is resolved here and never fetched (a
    fetch of our own actor would record a hosted account a second time, as a remote one).
    Raises InvalidOrigin for what is no URL."""
    _scheme, host, port = origin(url)
    return host in hosted_domains() and _our_port(port)


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


# --- resolving addresses and URLs -------------------------------------------------------


def _resolve_address(address: str) -> Account | None:
    """The account ``user@server`` names: hosted here, or found with WebFinger on its
    server (never on a blocked one); None when it cannot be found."""
    try:
        return named_account(address)
    except _RESOLUTION_ERRORS as error:
        logger.info("search: %s not resolved: %s", address[:200], error)
        return None


def _hosted_resource(url: str) -> Account | Post | None:
    """The hosted account or post at ``url`` (its page or its ActivityPub id)."""
    parts = urlsplit(url)
    match = _HOSTED_PATH.fullmatch(parts.path)
    if match is None:
        return None
    handle, post_id = match.groups()
    _scheme, host, _port = origin(url)
    account = (
        Account.objects.local()
        .select_related(*ACCOUNT_RELATED)
        .filter(domain__name=host, handle=handle.lower(), suspended_at__isnull=True)
        .first()
    )
    if account is None or post_id is None:
        return account
    return Post.objects.local().filter(pk=int(post_id), account=account).first()


def _fetch_resource(url: str) -> dict[str, Any]:
    """The ActivityPub document at ``url``, from the origin of its id.

    A profile or post page (Mastodon's ``/@alice/1``) answers the document of another id
    (``/users/alice/statuses/1``): only the id is read from it, and the document is
    believed as fetched again from that id (checklist S8, S10), as Mastodon does.
    """
    # The document is used only for its id unless it carries the URL asked for, which is
    # exactly what fetch_object checks; get_json is the same guarded fetch.
    document = get_json(url)
    claimed = document.get("id")
    if claimed == url:
        return document
    if not isinstance(claimed, str) or not _is_url(claimed) or _hosted_url(claimed):
        raise RemoteError(f"the document at {url} has id {claimed!r}")
    return fetch_object(claimed)


def _store_note(document: dict[str, Any]) -> Post | None:
    """The post a fetched note describes, recorded when it is public or unlisted."""
    note = parse_note(document)
    known = Post.objects.by_uri(note.uri).first()
    if known is not None:
        return known
    if not note.public:
        # Who may read another server's private post is that server's to say.
        return None
    author = note.attributed_to
    # The author must live where the note does, and not here (owned_by is checked again
    # once the actor is fetched).
    if not same_origin(note.uri, author) or _hosted_url(author):
        return None
    actor = fetch_actor(author)
    if not owned_by(note, actor.uri) or actor.account.suspended_at is not None:
        return None
    content = received_content(note, actor, find_post(note.in_reply_to))
    if content.visibility not in (Visibility.PUBLIC, Visibility.UNLISTED):
        return None
    return record_received_post(actor.account, content)


def _remote_resource(url: str) -> Account | Post | None:
    """The account or post of another server at ``url``: known already, or fetched."""
    account = Account.objects.remote().filter(uri=url).exclude(uri="").first()
    if account is not None:
        return account
    post = Post.objects.by_uri(url).first()
    if post is not None:
        return post
    document = _fetch_resource(url)
    kind = document.get("type")
    if isinstance(kind, str) and kind in RECEIVED_TYPES:
        return fetch_actor(document["id"]).account
    if isinstance(kind, str) and kind in NOTE_TYPES:
        return _store_note(document)
    return None


def _resolve_url(call: Caller, url: str) -> Account | Post | None:
    """The account or post at ``url`` the caller may see, or None."""
    url = urldefrag(url)[0]
    try:
        if BlockedDomain.covers(origin(url)[1]):
            # Neither asked nor shown, even when known from before the block.
            return None
        found = _hosted_resource(url) if _hosted_url(url) else _remote_resource(url)
    except _RESOLUTION_ERRORS as error:
        logger.info("search: %s not resolved: %s", url[:200], error)
        return None
    if isinstance(found, Post):
        return Renderer.joined(visible(Post.objects.filter(pk=found.pk), call)).first()
    if isinstance(found, Account) and found.suspended_at is None:
        return found
    return None


# --- finding -----------------------------------------------------------------------------


def _searchable_accounts(call: Caller, following: bool) -> QuerySet[Account]:
    accounts = Account.objects.select_related(*ACCOUNT_RELATED).filter(suspended_at__isnull=True)
    me = call.account
    if me is not None:
        # An account that blocks the caller is not found by them, as its statuses are not.
        accounts = accounts.exclude(pk__in=Block.objects.filter(target=me).values("account"))
        if following:
            accounts = accounts.filter(pk__in=followed_by(me).values("target"))
    return accounts


def _find_accounts(
    call: Caller, term: str, *, limit: int, offset: int, resolve: bool, following: bool
) -> list[Account]:
    """Accounts whose address matches ``term`` (``user@server``), or whose name, handle or
    institution contains each of its words, accents and case ignored; the account named
    exactly comes first."""
    accounts = _searchable_accounts(call, following)
    bare = term.lstrip("@")
    address = _ADDRESS.fullmatch(term)
    exact: Account | None = None
    if address is not None:
        user, authority = address.groups()
        host = authority.rsplit(":", 1)[0] if authority.rsplit(":", 1)[-1].isdigit() else authority
        on_host = Q(domain__name__iexact=host) | Q(remote_host__iexact=host)
        if offset == 0:
            if resolve and call.account is not None:
                exact = _resolve_address(bare)
            else:
                exact = accounts.filter(on_host, handle__iexact=user).first()
            if exact is not None and not accounts.filter(pk=exact.pk).exists():
                exact = None  # suspended, blocking the caller, or not followed
        matches = accounts.filter(on_host, handle__istartswith=user)
    else:
        words = fold(bare).split()
        if not words:
            return []
        # A moved account is found by its exact address only, as on Mastodon.
        matches = accounts.filter(moved_to__isnull=True)
        for word in words:
            matches = matches.filter(search_text__contains=word)
    matches = matches.annotate(
        named=Case(
            When(handle__iexact=bare, then=Value(0)), default=1, output_field=IntegerField()
        ),
        remote=Case(
            When(domain__isnull=True, then=Value(1)), default=0, output_field=IntegerField()
        ),
    ).order_by("named", "remote", "display_name", "pk")
    if exact is not None:
        rows = list(matches.exclude(pk=exact.pk)[: max(limit - 1, 0)])
        return [exact, *rows]
    return list(matches[offset : offset + limit])


def _find_statuses(
    call: Caller, term: str, params: SearchParams, *, limit: int, offset: int
) -> list[Post]:
    """Statuses the caller may see whose text contains ``term``, newest first."""
    if call.account is None or ("@" in term and " " not in term):
        # Mastodon searches statuses for signed-in users only, and never for an address.
        return []
    where = window(params, default=SEARCH_LIMIT, maximum=SEARCH_MAXIMUM)
    posts = visible(Post.objects.filter(text__icontains=term), call)
    if params.account_id:
        posts = posts.filter(account=account_or_404(params.account_id))
    if where.max_id is not None:
        posts = posts.filter(pk__lt=where.max_id)
    if where.min_id is not None:
        posts = posts.filter(pk__gt=where.min_id)
    return list(Renderer.joined(posts).order_by("-pk")[offset : offset + limit])


def _find_hashtags(term: str, *, limit: int, offset: int) -> list[Hashtag]:
    """Hashtags starting with ``term`` (accents and case ignored) that a public or unlisted
    status uses, shortest first (the exact one leads)."""
    name = normalize_hashtag(term.lstrip("#").strip())
    if not _HASHTAG_NAME.fullmatch(name):
        return []
    # A hashtag seen only in followers-only or direct statuses is not revealed.
    used = Post.hashtags.through.objects.filter(
        hashtag=OuterRef("pk"),
        post__visibility__in=(Visibility.PUBLIC, Visibility.UNLISTED),
        post__deleted_at__isnull=True,
        post__account__suspended_at__isnull=True,
    )
    tags = (
        Hashtag.objects.filter(name__startswith=name)
        .filter(Exists(used))
        .order_by(Length("name"), "name")
    )
    return list(tags[offset : offset + limit])


def _tag(request: HttpRequest, tag: Hashtag) -> dict[str, Any]:
    return {"name": tag.name, "url": request.build_absolute_uri(f"/tags/{tag.name}"), "history": []}


def _kinds(value: str | None) -> tuple[str, ...]:
    """The kinds of results asked for; an unknown ``type`` finds nothing, as Mastodon."""
    if not value:
        return SEARCH_KINDS
    return (value,) if value in SEARCH_KINDS else ()


# --- search ------------------------------------------------------------------------------


@router.get(
    "/v2/search",
    response={200: SearchResults, **ERRORS},
    auth=OAuth("read:search", optional=True),
    openapi_extra=ANYONE,
)
def search(request: HttpRequest, params: Query[SearchParams]) -> dict[str, Any]:
    """Accounts, statuses and hashtags matching ``q``; with ``resolve``, the account or
    status an address or a URL names, looked up on its server if needed."""
    call = caller(request)
    term = _query(params.q)
    limit = window(Page(limit=params.limit), default=SEARCH_LIMIT, maximum=SEARCH_MAXIMUM).limit
    offset = _number(params.offset, "offset", MAX_OFFSET)
    if call.account is None:
        # Mastodon's two refusals to anonymous callers.
        if params.offset not in (None, ""):
            raise ApiError(401, _("La pagination d'une recherche demande d'être connecté."))
        if params.resolve:
            raise ApiError(401, _("Une recherche sur les autres serveurs demande d'être connecté."))
    kinds = _kinds(params.type)
    accounts: list[Account] = []
    statuses: list[Post] = []
    hashtags: list[Hashtag] = []
    if term and params.resolve and _is_url(term):
        # A URL names one thing, found once (not on later pages).
        found = _resolve_url(call, term) if offset == 0 else None
        if isinstance(found, Account) and "accounts" in kinds:
            accounts = [found]
        elif isinstance(found, Post) and "statuses" in kinds:
            statuses = [found]
    elif term:
        if "accounts" in kinds and not term.startswith("#"):
            accounts = _find_accounts(
                call,
                term,
                limit=limit,
                offset=offset,
                resolve=params.resolve,
                following=params.following,
            )
        if "statuses" in kinds:
            statuses = _find_statuses(call, term, params, limit=limit, offset=offset)
        if "hashtags" in kinds and "@" not in term:
            hashtags = _find_hashtags(term, limit=limit, offset=offset)
    renderer = Renderer(request, call)
    renderer.load_accounts(accounts)
    return {
        "accounts": [renderer.account(account) for account in accounts],
        "statuses": renderer.statuses(statuses),
        "hashtags": [_tag(request, tag) for tag in hashtags],
    }


@router.get(
    "/v1/accounts/search",
    response={200: list[schemas.Account], **ERRORS},
    auth=OAuth("read:accounts"),
)
def search_accounts(
    request: HttpRequest, params: Query[AccountSearchParams]
) -> list[dict[str, Any]]:
    """Accounts matching ``q`` (name, handle or address); with ``resolve``, an address of
    another server is looked up with WebFinger."""
    call = caller(request)
    term = _query(params.q)
    limit = window(Page(limit=params.limit), default=ACCOUNTS_LIMIT, maximum=ACCOUNTS_MAXIMUM).limit
    offset = _number(params.offset, "offset", MAX_OFFSET)
    if not term:
        return []
    accounts = _find_accounts(
        call, term, limit=limit, offset=offset, resolve=params.resolve, following=params.following
    )
    renderer = Renderer(request, call)
    renderer.load_accounts(accounts)
    return [renderer.account(account) for account in accounts]
