"""``/api/v1/instance`` and ``/api/v2/instance``: what the server is and what it allows."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema

from parvis.api import schemas
from parvis.identity.lookups import request_domain
from parvis.identity.models import Account
from parvis.publishing.models import Post
from parvis.publishing.pins import MAX_PINNED

router = Router(tags=["instance"])

IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif"]


def mastodon_version() -> str:
    """The version clients read features from: the Mastodon API level, then Parvis's."""
    return f"4.5.0 (compatible; Parvis {version('parvis')})"


class InstanceV1(Schema):
    uri: str
    title: str
    short_description: str
    description: str
    email: str
    version: str
    urls: dict[str, str]
    stats: dict[str, int]
    thumbnail: str | None
    languages: list[str]
    registrations: bool
    approval_required: bool
    invites_enabled: bool
    configuration: dict[str, Any]
    contact_account: schemas.Account | None
    rules: list[dict[str, Any]]


class InstanceV2(Schema):
    domain: str
    title: str
    version: str
    source_url: str
    description: str
    usage: dict[str, Any]
    thumbnail: dict[str, Any]
    icon: list[dict[str, Any]]
    languages: list[str]
    configuration: dict[str, Any]
    registrations: dict[str, Any]
    api_versions: dict[str, int]
    contact: dict[str, Any]
    rules: list[dict[str, Any]]


class Rule(Schema):
    id: str
    text: str
    hint: str


# Apps read the instance on every start: its counts (three scans of large tables) are
# kept a few minutes, as Mastodon keeps them.
STATS_SECONDS = 300


def _stats() -> dict[str, int]:
    return {
        "user_count": Account.objects.local().count(),
        "status_count": Post.objects.live().local().count(),
        "domain_count": Account.objects.exclude(remote_host="")
        .values("remote_host")
        .distinct()
        .count(),
    }


def _active_month() -> int:
    month_ago = timezone.now() - timedelta(days=30)
    active = Post.objects.local().filter(published_at__gte=month_ago).values("account")
    return active.distinct().count()


def _domain(request: HttpRequest) -> str:
    return request_domain(request) or request.get_host().split(":")[0]


def _configuration(request: HttpRequest) -> dict[str, Any]:
    streaming = request.build_absolute_uri("/").rstrip("/").replace("http", "ws", 1)
    return {
        "urls": {"streaming": streaming, "status": None},
        "vapid": {"public_key": ""},
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": MAX_PINNED},
        "statuses": {
            "max_characters": settings.PARVIS_MAX_POST_CHARS,
            "max_media_attachments": settings.PARVIS_MAX_MEDIA_PER_POST,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": IMAGE_TYPES,
            "description_limit": 1500,
            "image_size_limit": settings.PARVIS_MAX_IMAGE_BYTES,
            "image_matrix_limit": settings.PARVIS_MAX_IMAGE_PIXELS,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": 0,
            "max_characters_per_option": 0,
            "min_expiration": 0,
            "max_expiration": 0,
        },
        "translation": {"enabled": False},
    }


def _description(domain: str) -> str:
    return f"{settings.PARVIS_SITE_NAME} — {domain}"


@router.get("/v1/instance", response=InstanceV1, auth=None, url_name="instance_v1")
def instance_v1(request: HttpRequest) -> dict[str, Any]:
    """The server, as Mastodon 3 described it (still read by many clients)."""
    domain = _domain(request)
    configuration = _configuration(request)
    return {
        "uri": domain,
        "title": settings.PARVIS_SITE_NAME,
        "short_description": _description(domain),
        "description": _description(domain),
        "email": "",
        "version": mastodon_version(),
        "urls": {"streaming_api": configuration["urls"]["streaming"]},
        "stats": cache.get_or_set("api:instance:stats", _stats, STATS_SECONDS),
        "thumbnail": None,
        "languages": ["fr", "en"],
        "registrations": False,
        "approval_required": True,
        "invites_enabled": False,
        "configuration": {
            key: configuration[key]
            for key in ("accounts", "statuses", "media_attachments", "polls")
        },
        "contact_account": None,
        "rules": [],
    }


# Mastodon.py asks for /api/v1/instance/ and /api/v2/instance/ (with the slash), and
# retries without end on a 404.
router.add_api_operation(
    "/v1/instance/",
    ["GET"],
    instance_v1,
    response=InstanceV1,
    auth=None,
    url_name="instance_v1_slash",
    operation_id="instance_v1_slash",
    include_in_schema=False,
)


@router.get("/v2/instance", response=InstanceV2, auth=None, url_name="instance_v2")
def instance_v2(request: HttpRequest) -> dict[str, Any]:
    """The server as Mastodon 4 describes it."""
    domain = _domain(request)
    active = cache.get_or_set("api:instance:active", _active_month, STATS_SECONDS)
    return {
        "domain": domain,
        "title": settings.PARVIS_SITE_NAME,
        "version": mastodon_version(),
        "source_url": settings.PARVIS_SOURCE_URL or request.build_absolute_uri("/"),
        "description": _description(domain),
        "usage": {"users": {"active_month": active}},
        "thumbnail": {"url": request.build_absolute_uri("/static/parvis/api/header.png")},
        "icon": [],
        "languages": ["fr", "en"],
        "configuration": _configuration(request),
        "registrations": {
            "enabled": False,
            "approval_required": True,
            "message": None,
            "url": None,
        },
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


router.add_api_operation(
    "/v2/instance/",
    ["GET"],
    instance_v2,
    response=InstanceV2,
    auth=None,
    url_name="instance_v2_slash",
    operation_id="instance_v2_slash",
    include_in_schema=False,
)


@router.get("/v1/instance/rules", response=list[Rule], auth=None)
def rules(request: HttpRequest) -> list[dict[str, Any]]:
    """The server's rules (published with moderation)."""
    return []


@router.get("/v1/instance/translation_languages", response=dict[str, list[str]], auth=None)
def translation_languages(request: HttpRequest) -> dict[str, list[str]]:
    """No machine translation on this server."""
    return {}


@router.get("/v1/instance/extended_description", response=dict[str, Any], auth=None)
def extended_description(request: HttpRequest) -> dict[str, Any]:
    return {"updated_at": None, "content": f"<p>{_description(_domain(request))}</p>"}
