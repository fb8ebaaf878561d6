"""WebFinger, host-meta and NodeInfo: how other servers find accounts and learn about Parvis."""

from __future__ import annotations

import importlib.metadata
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from parvis.core.urls import origin, without_canonical_port
from parvis.federation import ids
from parvis.federation.views.errors import refuse
from parvis.identity.lookups import hosted_domains, request_domain
from parvis.identity.models import Account
from parvis.publishing.models import Post

JRD = "application/jrd+json"


def _parse_resource(resource: str) -> tuple[str, str] | None:
    """(handle, domain) named by an ``acct:`` URI or one of our actor URLs."""
    if resource.startswith("acct:"):
        handle, at, domain = resource[5:].lstrip("@").rpartition("@")
        return (handle, domain) if at and handle and domain else None
    parts = urlsplit(resource)
    if parts.scheme in ("http", "https") and parts.path.startswith("/@"):
        handle, _at, domain = parts.path[2:].rstrip("/").partition("@")
        return handle, (domain or parts.netloc)
    return None


def _acct(account: Account) -> str:
    """The account's address, with the port when canonical URLs carry one."""
    port = f":{settings.PARVIS_URL_PORT}" if settings.PARVIS_URL_PORT else ""
    return f"{account.acct}{port}"


@require_safe
def webfinger(request: HttpRequest) -> HttpResponse:
    """RFC 7033 lookup of ``acct:handle@domain[:port]`` or of an actor URL."""
    resource = request.GET.get("resource", "")
    if not resource or len(resource) > 1024:
        return refuse(400, "The resource parameter is missing or too long.")
    parsed = _parse_resource(resource)
    if parsed is None:
        return refuse(400, "The resource is neither acct:handle@domain nor an actor URL.")
    handle, authority = parsed[0].lower(), parsed[1].lower()
    domain = (without_canonical_port(authority) or "").rstrip(".")
    if domain not in hosted_domains():
        return refuse(404, f"The domain {authority} is not hosted here.")
    account = (
        Account.objects.select_related("domain")
        .filter(domain__name=domain, handle=handle, suspended_at__isnull=True)
        .first()
    )
    if account is None:
        return refuse(404, f"No account {handle}@{domain}.")
    uri = ids.actor_uri(account)
    document = {
        "subject": f"acct:{_acct(account)}",
        "aliases": [uri],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": uri},
            {"rel": "self", "type": "application/activity+json", "href": uri},
            {
                "rel": "http://ostatus.org/schema/1.0/subscribe",
                "template": f"{origin(domain)}/authorize_interaction?uri={{uri}}",
            },
        ],
    }
    response = JsonResponse(document, content_type=JRD)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=600"
    return response


@require_safe
def host_meta(request: HttpRequest) -> HttpResponse:
    """The legacy XRD pointing at WebFinger (some servers still start here)."""
    base = origin(request_domain(request) or request.get_host())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )
    return HttpResponse(body, content_type="application/xrd+xml")


@require_safe
def nodeinfo_links(request: HttpRequest) -> HttpResponse:
    base = origin(request_domain(request) or request.get_host())
    return JsonResponse(
        {
            "links": [
                {
                    "rel": f"http://nodeinfo.diaspora.software/ns/schema/{v}",
                    "href": f"{base}/nodeinfo/{v}",
                }
                for v in ("2.0", "2.1")
            ]
        }
    )


@require_safe
def nodeinfo(request: HttpRequest, version: str) -> HttpResponse:
    """NodeInfo 2.0/2.1 with real usage counts."""
    now = timezone.now()
    accounts = Account.objects.filter(suspended_at__isnull=True)
    local_posts = Post.objects.filter(deleted_at__isnull=True)

    def active_since(days: int) -> int:
        return (
            accounts.filter(posts__published_at__gte=now - timedelta(days=days)).distinct().count()
        )

    software = {"name": "parvis", "version": importlib.metadata.version("parvis")}
    document = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
        "openRegistrations": False,
        "usage": {
            "users": {
                "total": accounts.count(),
                "activeMonth": active_since(30),
                "activeHalfyear": active_since(180),
            },
            "localPosts": local_posts.count(),
        },
        "metadata": {"nodeName": settings.PARVIS_SITE_NAME},
    }
    profile = f"http://nodeinfo.diaspora.software/ns/schema/{version}#"
    response = JsonResponse(document, content_type=f'application/json; profile="{profile}"')
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=1800"
    return response
