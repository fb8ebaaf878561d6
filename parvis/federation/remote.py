"""Documents of other servers: fetched from their origin through the guarded client, checked.

Nothing a remote server says about an actor or an object is trusted unless it
comes from that actor's or object's own URL: the document's ``id`` must be the
URL it was fetched from (after redirects on the same origin). Actors become
identity accounts (with a :class:`RemoteActor` row for what federation needs);
objects are returned parsed, for the inbox handlers to decide.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urldefrag

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from parvis.core import http
from parvis.federation import ids
from parvis.federation.keys import instance_keys, rsa_private_key
from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.federation.origins import InvalidOrigin, host_of, origin, same_origin
from parvis.federation.signatures import load_public_pem, sign_cavage
from parvis.federation.vocab.actors import ActorError, ParsedActor, parse_actor
from parvis.identity.models import Domain
from parvis.identity.services import record_remote_account

ACTIVITY_TYPES = ["application/activity+json", "application/ld+json"]
JRD_TYPES = ["application/jrd+json", "application/json"]
MAX_DOCUMENT_BYTES = 512 * 1024
REFRESH_AFTER = timedelta(days=1)


class RemoteError(Exception):
    """A remote document that cannot be used, with the reason."""


def _signed_get_headers(url: str) -> dict[str, str]:
    """Headers signing a GET with the instance actor, for servers in authorized-fetch mode."""
    domain = Domain.objects.filter(name=settings.PARVIS_DEFAULT_DOMAIN).first() or (
        Domain.objects.order_by("name").first()
    )
    if domain is None:
        return {}
    key = rsa_private_key(instance_keys(domain))
    return sign_cavage("GET", url, {}, None, ids.instance_key_id(domain.name), key)


def get_json(url: str, accept: list[str] = ACTIVITY_TYPES) -> dict[str, Any]:
    """The JSON object at ``url``, fetched with the instance actor's signature.

    Refused (RemoteError) when ``url`` is no URL Parvis fetches, its server is blocked,
    the answer is not a JSON object of HTTP 200, or a redirect left the origin asked. The
    document's ``id`` is not checked: :func:`fetch_object` does that for callers that
    believe the document for what it says it is.
    """
    try:
        host = host_of(url)
    except InvalidOrigin as error:
        raise RemoteError(f"{url!r} is not a URL Parvis fetches: {error}") from error
    if BlockedDomain.covers(host):
        raise RemoteError(f"{host} is a blocked domain")
    try:
        response = http.fetch(
            url,
            headers=_signed_get_headers(url),
            accept_types=accept,
            max_bytes=MAX_DOCUMENT_BYTES,
            timeout=10,
        )
    except http.FetchError as error:
        raise RemoteError(str(error)) from error
    if response.status != 200:
        raise RemoteError(f"{url} answered HTTP {response.status}")
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError) as error:
        raise RemoteError(f"{url} is not JSON") from error
    if not isinstance(document, dict):
        raise RemoteError(f"{url} is not a JSON object")
    if not same_origin(response.url, url):
        raise RemoteError(f"{url} redirected to another origin ({response.url})")
    return document


@transaction.atomic
def _store(parsed: ParsedActor) -> RemoteActor:
    account = record_remote_account(parsed.profile)
    actor, _created = RemoteActor.objects.update_or_create(
        uri=parsed.profile.uri,
        defaults={
            "account": account,
            "domain": parsed.profile.host,
            "inbox": parsed.inbox,
            "shared_inbox": parsed.shared_inbox,
            "followers_uri": parsed.followers_uri,
            "key_id": parsed.key_id,
            "public_key_pem": parsed.public_key_pem,
            "also_known_as": list(parsed.also_known_as),
            "fetched_at": timezone.now(),
        },
    )
    return actor


def fetch_actor(uri: str, *, refresh: bool = False) -> RemoteActor:
    """The actor ``uri``, from the cache when fresh, else fetched from its origin."""
    uri = urldefrag(uri)[0]
    cached = RemoteActor.objects.select_related("account").filter(uri=uri).first()
    if cached and not refresh and timezone.now() - cached.fetched_at < REFRESH_AFTER:
        if BlockedDomain.covers(cached.domain):
            raise RemoteError(f"{cached.domain} is a blocked domain")
        return cached
    try:
        return _store(parse_actor(get_json(uri), uri))
    except ActorError as error:
        raise RemoteError(str(error)) from error


def fetch_object(uri: str) -> dict[str, Any]:
    """An object fetched from its own origin: the canonical copy of what was embedded.

    The document's id must be the URL asked for, so a server cannot answer for
    an object of another (checklist S8, S10).
    """
    uri = urldefrag(uri)[0]
    document = get_json(uri)
    if document.get("id") != uri:
        raise RemoteError(f"the document at {uri} has id {document.get('id')!r}")
    return document


def resolve_address(address: str) -> RemoteActor:
    """The actor of a Fediverse address ``user@host[:port]``, found with WebFinger."""
    user, _at, host = address.strip().lstrip("@").partition("@")
    if not user or not host:
        raise RemoteError(f"{address!r} is not an address of the form user@server")
    # A trial install served over plain HTTP talks to its peers the same way.
    scheme = "http" if settings.PARVIS_URL_SCHEME == "http" else "https"
    # The server part becomes the authority of a URL: only a host and an optional
    # port (``ville@localhost:8000``), nothing that would move the request elsewhere.
    if any(char in host for char in "/?#@\\"):
        raise RemoteError(f"{address!r} does not name a server")
    try:
        origin(f"{scheme}://{host}")
    except InvalidOrigin as error:
        raise RemoteError(f"{address!r} does not name a server: {error}") from error
    resource = quote(f"acct:{user}@{host}", safe=":@")
    document = get_json(
        f"{scheme}://{host}/.well-known/webfinger?resource={resource}", accept=JRD_TYPES
    )
    links = document.get("links")
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and str(link.get("type", "")).startswith(tuple(ACTIVITY_TYPES))
            and isinstance(link.get("href"), str)
        ):
            return fetch_actor(link["href"])
    raise RemoteError(f"{host} publishes no ActivityPub actor for {address}")


# Verifying a delivery needs the signer's key, asked for at every request: the actors
# whose keys were just used are kept per process for a minute (a failed verification
# asks again with refresh=True, which bypasses this and the database).
KEY_MEMO_SECONDS = 60.0
_key_memo: dict[str, tuple[float, RemoteActor]] = {}


def forget_key_owners() -> None:
    """Drop this process's memo of signers (tests, and after blocking an actor)."""
    _key_memo.clear()


def key_owner(key_id: str, *, refresh: bool = False) -> RemoteActor:
    """The actor whose document publishes ``key_id`` (Mastodon's ``actor#main-key`` form)."""
    memo = _key_memo.get(key_id)
    if memo is not None and not refresh and time.monotonic() - memo[0] < KEY_MEMO_SECONDS:
        return memo[1]
    actor = fetch_actor(urldefrag(key_id)[0], refresh=refresh)
    if actor.key_id != key_id:
        if not refresh:
            return key_owner(key_id, refresh=True)
        raise RemoteError(f"{actor.uri} does not publish the key {key_id}")
    if len(_key_memo) > 10_000:
        _key_memo.clear()
    _key_memo[key_id] = (time.monotonic(), actor)
    return actor


@functools.lru_cache(maxsize=4096)
def _parsed_key(pem: str) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    # Parsing a PEM costs more than verifying a signature with it: once per process.
    return load_public_pem(pem)


def public_key(actor: RemoteActor) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    """The actor's public key, or RemoteError when it has none usable."""
    try:
        return _parsed_key(actor.public_key_pem)
    except (ValueError, TypeError) as error:
        raise RemoteError(f"{actor.uri} publishes no usable public key") from error
