"""The Mastodon client API: one django-ninja API, its routers, its error shapes.

The OpenAPI document (``/api/openapi.json``) is generated from these routes and the
schemas of :mod:`parvis.api.schemas` (decision 0009).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from parvis.api.endpoints import (
    accounts,
    apps,
    bookmarks_mutes,
    discovery,
    filters,
    instance,
    interactions,
    lists,
    markers,
    media,
    notification_groups,
    notifications,
    profile,
    scheduled,
    search,
    statuses,
    timelines,
)
from parvis.api.errors import ApiError, error_response, handle_api_error
from parvis.api.params import MastodonParser

api = NinjaAPI(
    title="Parvis — Mastodon client API",
    version="4.5.0",
    description=(
        "The part of Mastodon's client API that Parvis implements; see docs/api.md for "
        "the differences."
    ),
    parser=MastodonParser(),
    urls_namespace="mastodon",
    docs_url=None,
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return handle_api_error(request, exc)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors[:10]:
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "?"
        problems.append(f"{where}: {error.get('msg', '')}")
    return error_response(
        422, _("Échec de la validation : %(problems)s") % {"problems": "; ".join(problems)}
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return handle_api_error(request, ApiError(401, _("Le jeton d'accès est invalide")))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, _("Enregistrement introuvable"))


api.add_router("/", apps.router)
# Before accounts: /v1/accounts/search, /v1/accounts/update_credentials and
# /v1/accounts/familiar_followers would otherwise be read as account ids.
api.add_router("/", search.router)
api.add_router("/", profile.router)
api.add_router("/", scheduled.router)
api.add_router("/", discovery.router)
api.add_router("/", instance.router)
api.add_router("/", accounts.router)
api.add_router("/", statuses.router)
api.add_router("/", timelines.router)
api.add_router("/", interactions.router)
api.add_router("/", notifications.router)
api.add_router("/", notification_groups.router)
api.add_router("/", media.router)
api.add_router("/", bookmarks_mutes.router)
api.add_router("/", lists.router)
api.add_router("/", filters.router)
api.add_router("/", markers.router)
