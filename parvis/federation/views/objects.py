"""ActivityPub documents of local accounts and posts, with the same caching as public pages."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from parvis.core.http_cache import cacheable, make_etag, not_modified
from parvis.core.params import id_param
from parvis.federation import ids, signatures
from parvis.federation.models import BlockedDomain
from parvis.federation.remote import RemoteError
from parvis.federation.verification import verify_request
from parvis.federation.views.errors import refuse
from parvis.federation.vocab.actors import render_actor, render_instance_actor
from parvis.federation.vocab.collections import render_collection, render_page
from parvis.federation.vocab.notes import render_create, render_note, render_tombstone
from parvis.identity.lookups import find_account, request_domain
from parvis.identity.models import Account, Domain
from parvis.interactions.models import Follow
from parvis.publishing.models import Post, Visibility
from parvis.publishing.pins import pinned_posts

ACTIVITY_JSON = "application/activity+json; charset=utf-8"
# Posts anyone may fetch as objects; followers-only ones need a signed fetch
# from a follower, which the inbox work brings.
FETCHABLE = (Visibility.PUBLIC, Visibility.UNLISTED)


def _json(document: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        content_type=ACTIVITY_JSON,
        status=status,
    )


def signed_fetch(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """In authorized-fetch mode, serve ``view`` only to a server that signs its GET.

    Actor documents stay readable unsigned: other servers need our public keys
    to verify the very signatures this mode asks of them.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.PARVIS_AUTHORIZED_FETCH:
            return view(request, *args, **kwargs)
        try:
            signer = verify_request(request, None)
        except signatures.MalformedSignature as error:
            return refuse(400, f"Malformed signature: {error}")
        except (signatures.SignatureError, RemoteError) as error:
            return refuse(401, f"This server requires signed fetches: {error}")
        if BlockedDomain.covers(urlsplit(signer).hostname or ""):
            return refuse(403, "Your domain is blocked by this server.")
        response = view(request, *args, **kwargs)
        # What a signed fetch gets must not be handed to others by a shared cache.
        response["Cache-Control"] = "private, no-store"
        patch_vary_headers(response, ("Signature", "Signature-Input"))
        return response

    return wrapped


def _account(request: HttpRequest, handle: str, domain: str | None) -> Account:
    account = find_account(request, handle, domain)
    if account.suspended_at:
        raise Http404(_("Le compte @%(acct)s est suspendu.") % {"acct": account.acct})
    return account


@require_safe
def actor(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """The actor document of an account."""
    account = _account(request, handle, domain)
    etag = make_etag("actor", account.pk, account.updated_at)
    if response := not_modified(request, etag, account.updated_at):
        return response
    return cacheable(_json(render_actor(account)), etag, account.updated_at)


@require_safe
def instance_actor(request: HttpRequest) -> HttpResponse:
    """The actor of the server itself on the requested domain (Application)."""
    name = request_domain(request)
    domain = Domain.objects.filter(name=name).first() if name else None
    if domain is None:
        raise Http404(_("Aucun domaine n'est hébergé ici."))
    return _json(render_instance_actor(domain))


@require_safe
@signed_fetch
def note(
    request: HttpRequest, handle: str, post_id: int, domain: str | None = None
) -> HttpResponse:
    """A post as a Note, or a Tombstone once deleted."""
    account = _account(request, handle, domain)
    post = (
        Post.objects.filter(pk=post_id, account=account)
        .prefetch_related("hashtags", "media")
        .first()
    )
    if post is None or post.visibility not in FETCHABLE:
        raise Http404(_("Ce message n'existe pas ou n'est pas public."))
    post.account = account
    changed = post.last_change_at
    etag = make_etag("note", post.pk, changed)
    if response := not_modified(request, etag, changed):
        return response
    if post.deleted_at:
        return cacheable(_json(render_tombstone(post), status=410), etag, changed)
    return cacheable(_json(render_note(post)), etag, changed)


@require_safe
@signed_fetch
def outbox(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """The account's public and unlisted posts as Create activities, newest first."""
    account = _account(request, handle, domain)
    uri = ids.actor_path_uri(account, "outbox")
    posts = account.posts.live().filter(visibility__in=FETCHABLE)
    changed = account.last_change_at
    etag = make_etag("outbox", account.pk, changed, request.GET.urlencode())
    if response := not_modified(request, etag, changed):
        return response
    if "page" not in request.GET:
        document = render_collection(uri, posts.count(), first=f"{uri}?page=true")
        return cacheable(_json(document), etag, changed)
    max_id = id_param(request, "max_id")
    if max_id is not None:
        posts = posts.filter(id__lt=max_id)
    size = settings.PARVIS_PAGE_SIZE
    page = list(posts.prefetch_related("hashtags", "media").order_by("-id")[: size + 1])
    for post in page:
        post.account = account
    next_uri = f"{uri}?page=true&max_id={page[size - 1].id}" if len(page) > size else None
    page_uri = f"{uri}?{request.GET.urlencode()}"
    items = [render_create(post, with_context=False) for post in page[:size]]
    return cacheable(_json(render_page(page_uri, uri, items, next_uri=next_uri)), etag, changed)


@require_safe
@signed_fetch
def followers(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """How many remote actors follow the account (the list itself is not published)."""
    account = _account(request, handle, domain)
    total = Follow.objects.filter(target=account, state=Follow.State.ACCEPTED).count()
    return _json(render_collection(ids.actor_path_uri(account, "followers"), total))


@require_safe
@signed_fetch
def following(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """How many accounts the account follows (the list itself is not published)."""
    account = _account(request, handle, domain)
    total = Follow.objects.filter(follower=account, state=Follow.State.ACCEPTED).count()
    return _json(render_collection(ids.actor_path_uri(account, "following"), total))


@require_safe
@signed_fetch
def featured(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """Pinned posts, whole (Mastodon reads them inline), newest pin first."""
    account = _account(request, handle, domain)
    uri = ids.actor_path_uri(account, "collections/featured")
    posts = list(
        pinned_posts(account).filter(visibility__in=FETCHABLE).prefetch_related("hashtags", "media")
    )
    for post in posts:
        post.account = account
    notes = [render_note(post, with_context=False) for post in posts]
    return _json(render_collection(uri, len(notes), items=notes))
