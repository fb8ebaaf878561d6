"""Remote actors: fetched from their origin through the guarded client, checked, cached.

Nothing a remote server says about an actor is trusted unless it comes from
the actor's own URL: the document's ``id`` must be the URL it was fetched from
(after redirects on the same origin), its key must be owned by it, and its
inboxes must be on its origin.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urldefrag, urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.utils import timezone

from parvis.core import http
from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.federation.signatures import load_public_pem

ACTIVITY_TYPES = ["application/activity+json", "application/ld+json"]
ACTOR_TYPES = {"Person", "Service", "Organization", "Application", "Group"}
MAX_ACTOR_BYTES = 512 * 1024
REFRESH_AFTER = timedelta(days=1)


class RemoteError(Exception):
    """A remote document that cannot be used, with the reason."""


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port (RFC 6454), hosts compared case-insensitively."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"https": 443, "http": 80}
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "").rstrip(".") == (pb.hostname or "").rstrip(".")
        and (pa.port or default.get(pa.scheme.lower()))
        == (pb.port or default.get(pb.scheme.lower()))
    )


def _get_json(url: str) -> dict[str, Any]:
    response = http.fetch(url, accept_types=ACTIVITY_TYPES, max_bytes=MAX_ACTOR_BYTES, timeout=10)
    if response.status != 200:
        raise RemoteError(f"{url} answered HTTP {response.status}")
    try:
        document = json.loads(response.body)
    except ValueError as error:
        raise RemoteError(f"{url} is not JSON") from error
    if not isinstance(document, dict):
        raise RemoteError(f"{url} is not a JSON object")
    if not same_origin(response.url, url):
        raise RemoteError(f"{url} redirected to another origin ({response.url})")
    return document


def _string(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    return value if isinstance(value, str) else ""


def parse_actor(document: dict[str, Any], fetched_from: str) -> dict[str, str]:
    """The fields Parvis keeps of an actor document, after checking it speaks for itself."""
    actor_id = _string(document, "id")
    if not actor_id or urldefrag(actor_id)[0] != urldefrag(fetched_from)[0]:
        raise RemoteError(f"the document at {fetched_from} has id {actor_id!r}")
    if _string(document, "type") not in ACTOR_TYPES:
        raise RemoteError(f"{actor_id} is not an actor ({document.get('type')!r})")
    inbox = _string(document, "inbox")
    if not inbox or not same_origin(inbox, actor_id):
        raise RemoteError(f"{actor_id} has no inbox on its own origin")
    endpoints = document.get("endpoints")
    shared = _string(endpoints, "sharedInbox") if isinstance(endpoints, dict) else ""
    if shared and not same_origin(shared, actor_id):
        shared = ""
    key = document.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict)), None)
    key_id, pem = "", ""
    if isinstance(key, dict):
        if _string(key, "owner") not in ("", actor_id):
            raise RemoteError(f"the key of {actor_id} is owned by {key.get('owner')!r}")
        key_id, pem = _string(key, "id"), _string(key, "publicKeyPem")
        if key_id and not same_origin(key_id, actor_id):
            raise RemoteError(f"the key {key_id} is not on the origin of {actor_id}")
    return {
        "uri": actor_id,
        "domain": (urlsplit(actor_id).hostname or "").lower(),
        "username": _string(document, "preferredUsername")[:255],
        "display_name": _string(document, "name")[:255],
        "kind": _string(document, "type"),
        "inbox": inbox,
        "shared_inbox": shared,
        "url": _string(document, "url")[:2048],
        "key_id": key_id,
        "public_key_pem": pem,
    }


def fetch_actor(uri: str, *, refresh: bool = False) -> RemoteActor:
    """The actor ``uri``, from the cache when fresh, else fetched from its origin."""
    uri = urldefrag(uri)[0]
    if BlockedDomain.covers(urlsplit(uri).hostname or ""):
        raise RemoteError(f"{urlsplit(uri).hostname} is a blocked domain")
    cached = RemoteActor.objects.filter(uri=uri).first()
    if cached and not refresh and timezone.now() - cached.fetched_at < REFRESH_AFTER:
        return cached
    try:
        fields = parse_actor(_get_json(uri), uri)
    except http.FetchError as error:
        raise RemoteError(str(error)) from error
    fields["fetched_at"] = timezone.now()
    actor, _created = RemoteActor.objects.update_or_create(uri=fields.pop("uri"), defaults=fields)
    return actor


def key_owner(key_id: str, *, refresh: bool = False) -> RemoteActor:
    """The actor whose document publishes ``key_id`` (Mastodon's ``actor#main-key`` form)."""
    actor = fetch_actor(urldefrag(key_id)[0], refresh=refresh)
    if actor.key_id != key_id:
        if not refresh:
            return key_owner(key_id, refresh=True)
        raise RemoteError(f"{actor.uri} does not publish the key {key_id}")
    return actor


def public_key(actor: RemoteActor) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    """The actor's public key, or RemoteError when it has none usable."""
    try:
        return load_public_pem(actor.public_key_pem)
    except (ValueError, TypeError) as error:
        raise RemoteError(f"{actor.uri} publishes no usable public key") from error
