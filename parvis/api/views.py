"""OAuth 2 endpoints: the consent page, token and revocation, the server's metadata."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from oauth2_provider import views as oauth_views
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.views.mixins import OAuthLibMixin

from parvis.api import scopes
from parvis.api.endpoints.apps import OOB
from parvis.api.models import Application
from parvis.api.oauth import ACCOUNT_CREDENTIAL
from parvis.identity.models import Role, RoleKind


class _OAuth(OAuthLibMixin):
    """django-oauth-toolkit's bridge to oauthlib, outside of its class-based views."""


def _refused(request: HttpRequest, reason: str, status: int = 400) -> HttpResponse:
    return render(request, "api/refused.html", {"reason": reason}, status=status)


def _choices(request: HttpRequest) -> list[dict[str, Any]]:
    """The accounts the staff member may speak as, and their role on each."""
    roles = (
        Role.objects.filter(staff=request.user, account__domain__isnull=False)
        .exclude(kind=RoleKind.MODERATOR)
        .select_related("account__domain")
        .order_by("account__display_name")
    )
    return [{"account": role.account, "role": RoleKind(role.kind).label} for role in roles]


@login_required
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """The consent page: which account the application acts as, and what it may do."""
    oauth = _OAuth()
    try:
        requested, credentials = oauth.validate_authorization_request(request)
    except OAuthToolkitError as error:
        return _refused(request, error.oauthlib_error.description or error.oauthlib_error.error)
    application = Application.objects.get(client_id=credentials["client_id"])
    choices = _choices(request)
    if not choices:
        return _refused(request, _("Aucun compte ne vous est confié."), status=403)
    context = {
        "application": application,
        "accounts": choices,
        "scopes": [scopes.describe(scope) for scope in requested],
    }
    if request.method == "GET":
        return render(request, "api/authorize.html", context)
    allow = request.POST.get("decision") == "allow"
    chosen = {str(choice["account"].pk): choice["account"] for choice in choices}
    account = chosen.get(request.POST.get("account", ""))
    if allow and account is None:
        context["error"] = _("Choisissez l’un de vos comptes.")
        return render(request, "api/authorize.html", context, status=400)
    if account is not None:
        credentials[ACCOUNT_CREDENTIAL] = account.pk
    try:
        uri, _headers, _body, _status = oauth.create_authorization_response(
            request=request, scopes=" ".join(requested), credentials=credentials, allow=allow
        )
    except OAuthToolkitError as error:
        problem = error.oauthlib_error
        target = problem.redirect_uri or ""
        if isinstance(error, FatalClientError) or not target or target == OOB:
            return _refused(request, problem.description or problem.error)
        response = HttpResponseRedirect(problem.in_uri(target))
        response.allowed_schemes = application.get_allowed_schemes()
        return response
    if credentials.get("redirect_uri") == OOB:
        code = parse_qs(urlsplit(uri).query).get("code", [""])[0]
        return render(request, "api/code.html", {"application": application, "code": code})
    response = HttpResponseRedirect(uri)
    # The application's own scheme (tusky://…), registered and checked with it.
    response.allowed_schemes = application.get_allowed_schemes()
    return response


class TokenView(oauth_views.TokenView):
    """The token endpoint, with Mastodon's ``created_at`` in the Token entity."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            token = json.loads(response.content)
            token["created_at"] = int(time.time())
            response.content = json.dumps(token).encode()
        return response


class RevokeTokenView(oauth_views.RevokeTokenView):
    """Revocation answered ``{}`` as Mastodon does (Mastodon.py parses the body as JSON)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200 and not response.content:
            response.content = b"{}"
            response["Content-Type"] = "application/json"
        return response


def unknown_endpoint(request: HttpRequest, path: str = "") -> JsonResponse:
    """An API path that does not exist: Mastodon's JSON error, not an HTML page."""
    return JsonResponse({"error": _("Enregistrement introuvable")}, status=404)


@require_GET
def metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 authorization server metadata, as Mastodon 4.3+ publishes it."""
    root = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(
        {
            "issuer": root + "/",
            "authorization_endpoint": f"{root}/oauth/authorize",
            "token_endpoint": f"{root}/oauth/token",
            "revocation_endpoint": f"{root}/oauth/revoke",
            "app_registration_endpoint": f"{root}/api/v1/apps",
            "scopes_supported": list(scopes.ALL),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": "https://docs.joinmastodon.org/",
            "ui_locales_supported": ["fr", "en"],
        }
    )
