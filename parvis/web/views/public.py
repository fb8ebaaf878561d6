"""Public pages: readable by anyone, without an account or JavaScript, cacheable."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db.models import Max, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from markupsafe import Markup

from parvis.core.http_cache import cacheable, make_etag, not_modified
from parvis.core.models import Clock
from parvis.core.params import id_param
from parvis.core.text import fold, normalize_hashtag
from parvis.identity.lookups import find_account
from parvis.identity.models import Account, InstitutionKind
from parvis.interactions.services import visible_replies
from parvis.publishing.models import PostEdit, Visibility
from parvis.web.fragments import post_cards, post_versions
from parvis.web.lookups import account_path

PROFILE_VISIBILITIES = (Visibility.PUBLIC, Visibility.UNLISTED)


def _posts(
    timeline: str, params: list[Any], request: HttpRequest
) -> tuple[list[Markup], int | None]:
    """Cards of one page of a timeline older than ``max_id``, and the next page's ``max_id``."""
    size = settings.PARVIS_PAGE_SIZE
    max_id = id_param(request, "max_id")
    cards = post_cards(timeline, params, request, max_id=max_id, limit=size + 1)
    next_max_id = cards[size - 1][0] if len(cards) > size else None
    return [html for _id, html in cards[:size]], next_max_id


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "account_path": lambda account: account_path(account, request),
        "post_path": lambda post: f"{account_path(post.account, request)}/{post.id}",
        **extra,
    }


def _page(
    request: HttpRequest,
    template: str,
    etag: str,
    last_modified: Any,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    response = render(request, template, context, status=status)
    return cacheable(response, etag, last_modified)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The latest public posts of the server."""
    changed = Clock.read("server")
    etag = make_etag("home", changed, request.LANGUAGE_CODE, request.GET.get("max_id"))
    if response := not_modified(request, etag, changed):
        return response
    cards, next_max_id = _posts("public", [], request)
    return _page(
        request,
        "web/home.html",
        etag,
        changed,
        _context(request, cards=cards, next_max_id=next_max_id),
    )


@require_safe
def tag(request: HttpRequest, name: str) -> HttpResponse:
    """Public posts carrying a hashtag."""
    key = normalize_hashtag(name)
    changed = Clock.read("server")
    etag = make_etag("tag", key, changed, request.LANGUAGE_CODE, request.GET.get("max_id"))
    if response := not_modified(request, etag, changed):
        return response
    cards, next_max_id = _posts("tag", [key], request)
    return _page(
        request,
        "web/tag.html",
        etag,
        changed,
        _context(request, tag=key, cards=cards, next_max_id=next_max_id),
    )


@require_safe
def profile(request: HttpRequest, handle: str, domain: str | None = None) -> HttpResponse:
    """An account's profile and its posts, newest first."""
    account = find_account(request, handle, domain)
    changed = account.last_change_at
    etag = make_etag(
        "profile", account.pk, changed, request.LANGUAGE_CODE, request.GET.get("max_id")
    )
    if response := not_modified(request, etag, changed):
        return response
    if account.suspended_at:
        return _page(
            request,
            "web/suspended.html",
            etag,
            changed,
            _context(request, account=account),
            status=410,
        )
    cards, next_max_id = _posts("profile", [account.pk], request)
    holders = []
    ended_on = None
    if account.frozen_at and account.official_id:
        ended_on = account.official.mandates.aggregate(last=Max("end_date"))["last"]
    if account.kind == "function":
        holders = list(account.function_mandates.select_related("official").order_by("-start_date"))
    return _page(
        request,
        "web/profile.html",
        etag,
        changed,
        _context(
            request,
            account=account,
            cards=cards,
            next_max_id=next_max_id,
            holders=holders,
            ended_on=ended_on,
        ),
    )


@require_safe
def post_detail(
    request: HttpRequest, handle: str, post_id: int, domain: str | None = None
) -> HttpResponse:
    """A post's permalink, with its edit history; a tombstone once deleted."""
    account = find_account(request, handle, domain)
    post = post_versions(post_id, account)
    if post is None or post.visibility == Visibility.FOLLOWERS or account.suspended_at:
        raise Http404(_("Ce message n'existe pas ou n'est pas public."))
    changed = max(post.last_change_at, account.last_change_at)
    etag = make_etag("post", post.pk, changed, request.LANGUAGE_CODE)
    if response := not_modified(request, etag, changed):
        return response
    if post.deleted_at:
        return _page(
            request,
            "web/tombstone.html",
            etag,
            changed,
            _context(request, account=account, post=post),
            status=410,
        )
    edits = list(PostEdit.objects.filter(post_id=post.pk)) if post.edited_at else []
    cards = post_cards("single", [post.pk, account.pk], request, max_id=None, limit=1)
    replies = visible_replies(post)
    return _page(
        request,
        "web/post.html",
        etag,
        changed,
        _context(
            request, account=account, post=post, edits=edits, card=cards[0][1], replies=replies
        ),
    )


def directory_accounts(request: HttpRequest) -> tuple[QuerySet[Account], dict[str, str]]:
    """Accounts matching the directory filters of the request, and the filters applied."""
    filters = {
        key: request.GET.get(key, "").strip()[:100]
        for key in ("q", "kind", "departement", "commune")
    }
    accounts = Account.objects.public().filter(discoverable=True)
    if filters["kind"]:
        if filters["kind"] not in InstitutionKind.values:
            raise BadRequest(_("Type d'institution inconnu."))
        accounts = accounts.filter(institution__kind=filters["kind"])
    if filters["departement"]:
        accounts = accounts.filter(institution__departement_code__iexact=filters["departement"])
    if filters["commune"]:
        commune = filters["commune"]
        accounts = accounts.filter(
            Q(institution__insee_code=commune, institution__kind=InstitutionKind.COMMUNE)
            | Q(
                institution__parent__insee_code=commune,
                institution__parent__kind=InstitutionKind.COMMUNE,
            )
            | Q(institution__kind=InstitutionKind.COMMUNE, institution__name__iexact=commune)
        )
    if filters["q"]:
        for word in fold(filters["q"]).split():
            accounts = accounts.filter(search_text__contains=word)
    return accounts, filters


@require_safe
def directory(request: HttpRequest) -> HttpResponse:
    """Accounts hosted here, filtered by institution kind, département, commune or name."""
    changed = Clock.read("directory")
    etag = make_etag("directory", changed, request.LANGUAGE_CODE, request.GET.urlencode())
    if response := not_modified(request, etag, changed):
        return response
    accounts, filters = directory_accounts(request)
    paginator = Paginator(
        accounts.select_related("domain", "institution").order_by("display_name", "id"),
        settings.PARVIS_PAGE_SIZE * 2,
    )
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _page(
        request,
        "web/directory.html",
        etag,
        changed,
        _context(
            request,
            page=page,
            filters=filters,
            kinds=InstitutionKind.choices,
            query=query.urlencode(),
        ),
    )
