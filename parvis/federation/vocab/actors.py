"""Actor documents: those of hosted accounts, and those received from other servers."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urldefrag

from parvis.core.urls import absolute
from parvis.federation import ids
from parvis.federation.keys import instance_keys, keys_for
from parvis.federation.origins import InvalidOrigin, host_of, same_origin
from parvis.federation.vocab.context import ACTOR_CONTEXT, xsd_datetime
from parvis.federation.vocab.html import HtmlTooLarge, plain_text
from parvis.identity.models import Account, AccountKind, Domain
from parvis.identity.services import RemoteProfile

# Mastodon shows Service and Application actors as bots: an office (the mayor,
# the minister) is not a bot, so function accounts are Organizations.
ACTOR_TYPES = {
    AccountKind.PERSON: "Person",
    AccountKind.INSTITUTION: "Organization",
    AccountKind.FUNCTION: "Organization",
}


def _image(account: Account, field: str) -> dict[str, Any] | None:
    file = getattr(account, field)
    if not file:
        return None
    return {
        "type": "Image",
        "mediaType": "image/jpeg" if file.name.endswith(".jpg") else "image/png",
        "url": absolute(account.domain.name, file.url),
    }


def bio_html(account: Account) -> str:
    """The bio as Mastodon-style paragraphs."""
    paragraphs = [p.strip() for p in account.bio.split("\n\n") if p.strip()]
    return "".join(f"<p>{escape(p).replace(chr(10), '<br />')}</p>" for p in paragraphs)


def render_actor(account: Account) -> dict[str, Any]:
    """The actor document of ``account`` (its keys are created on first use)."""
    keys = keys_for(account)
    uri = ids.actor_uri(account)
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": uri,
        "type": ACTOR_TYPES[account.kind],
        "preferredUsername": account.handle,
        "name": account.display_name,
        "summary": bio_html(account),
        "url": uri,
        "inbox": ids.actor_path_uri(account, "inbox"),
        "outbox": ids.actor_path_uri(account, "outbox"),
        "followers": ids.actor_path_uri(account, "followers"),
        "following": ids.actor_path_uri(account, "following"),
        "featured": ids.actor_path_uri(account, "collections/featured"),
        "endpoints": {"sharedInbox": ids.shared_inbox_uri(account.domain.name)},
        "manuallyApprovesFollowers": account.locked,
        "discoverable": account.discoverable,
        "indexable": account.discoverable,
        "published": xsd_datetime(account.created_at),
        "publicKey": {
            "id": ids.rsa_key_id(account),
            "owner": uri,
            "publicKeyPem": keys.rsa_public_pem,
        },
        "assertionMethod": [
            {
                "id": ids.ed25519_key_id(account),
                "type": "Multikey",
                "controller": uri,
                "publicKeyMultibase": keys.ed25519_public_multibase,
            }
        ],
        "attachment": [
            {
                "type": "PropertyValue",
                "name": field.get("name", ""),
                "value": escape(str(field.get("value", ""))),
            }
            for field in account.fields
        ],
        "tag": [],
    }
    for field, key in (("avatar", "icon"), ("header", "image")):
        if image := _image(account, field):
            document[key] = image
    if account.also_known_as:
        document["alsoKnownAs"] = list(account.also_known_as)
    if account.moved_to_id and (target := account.moved_to) is not None:
        document["movedTo"] = ids.actor_uri(target) if target.is_local else target.uri
    return document


def render_instance_actor(domain: Domain) -> dict[str, Any]:
    """The instance actor of a hosted domain: the key that signs the server's own GETs."""
    keys = instance_keys(domain)
    uri = ids.instance_actor_uri(domain.name)
    return {
        "@context": ACTOR_CONTEXT,
        "id": uri,
        "type": "Application",
        "preferredUsername": domain.name,
        "name": domain.name,
        "url": absolute(domain.name, "/"),
        "inbox": ids.shared_inbox_uri(domain.name),
        "outbox": f"{uri}/outbox",
        "endpoints": {"sharedInbox": ids.shared_inbox_uri(domain.name)},
        "manuallyApprovesFollowers": True,
        "discoverable": False,
        "indexable": False,
        "publicKey": {
            "id": ids.instance_key_id(domain.name),
            "owner": uri,
            "publicKeyPem": keys.rsa_public_pem,
        },
    }


# --- received actors ------------------------------------------------------------

RECEIVED_TYPES = {
    "Person": AccountKind.PERSON,
    "Group": AccountKind.PERSON,
    "Organization": AccountKind.INSTITUTION,
    "Service": AccountKind.FUNCTION,
    "Application": AccountKind.FUNCTION,
}


class ActorError(ValueError):
    """An actor document that cannot be used, with the reason."""


@dataclass(frozen=True)
class ParsedActor:
    """What Parvis keeps of another server's actor document."""

    profile: RemoteProfile
    inbox: str
    shared_inbox: str
    followers_uri: str
    key_id: str
    public_key_pem: str
    also_known_as: tuple[str, ...]


def _string(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    return value if isinstance(value, str) else ""


def _image_url(value: Any) -> str:
    if isinstance(value, list):
        value = next(iter(value), None)
    if isinstance(value, dict):
        value = value.get("url")
        if isinstance(value, dict):
            value = value.get("href")
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return ""


def parse_actor(document: dict[str, Any], fetched_from: str) -> ParsedActor:
    """Check that an actor document speaks for itself and keep what Parvis uses.

    The document must carry the id it was fetched from and its key must live on
    that origin: a server cannot publish keys for another one (checklist S3).
    Inboxes may be elsewhere (micro.blog serves manton.org's actor with an inbox
    on micro.blog): the actor's own origin chose them, and deliveries go through
    the guarded client anyway.
    """
    actor_id = _string(document, "id")
    if not actor_id or urldefrag(actor_id)[0] != urldefrag(fetched_from)[0]:
        raise ActorError(f"the document at {fetched_from} has id {actor_id!r}")
    kind = _string(document, "type")
    if kind not in RECEIVED_TYPES:
        raise ActorError(f"{actor_id} is not an actor ({document.get('type')!r})")
    inbox = _string(document, "inbox")
    if not inbox.startswith(("https://", "http://")):
        raise ActorError(f"{actor_id} has no inbox URL")
    endpoints = document.get("endpoints")
    shared = _string(endpoints, "sharedInbox") if isinstance(endpoints, dict) else ""
    if not shared.startswith(("https://", "http://")):
        shared = ""
    key = document.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict)), None)
    key_id, pem = "", ""
    if isinstance(key, dict):
        if _string(key, "owner") not in ("", actor_id):
            raise ActorError(f"the key of {actor_id} is owned by {key.get('owner')!r}")
        key_id, pem = _string(key, "id"), _string(key, "publicKeyPem")
        if key_id and not same_origin(key_id, actor_id):
            raise ActorError(f"the key {key_id} is not on the origin of {actor_id}")
    aliases = document.get("alsoKnownAs")
    aliases = [aliases] if isinstance(aliases, str) else aliases
    url = document.get("url")
    if isinstance(url, dict):
        url = url.get("href")
    try:
        host = host_of(actor_id)
        display_name = plain_text(_string(document, "name"))
        bio = plain_text(_string(document, "summary"))
    except (HtmlTooLarge, InvalidOrigin) as error:
        raise ActorError(f"{actor_id}: {error}") from error
    profile = RemoteProfile(
        uri=actor_id,
        handle=_string(document, "preferredUsername"),
        host=host,
        display_name=display_name,
        bio=bio,
        url=url if isinstance(url, str) and url.startswith(("https://", "http://")) else "",
        avatar_url=_image_url(document.get("icon")),
        kind=RECEIVED_TYPES[kind],
        discoverable=document.get("discoverable") is True,
    )
    followers = _string(document, "followers")
    return ParsedActor(
        profile=profile,
        inbox=inbox,
        shared_inbox=shared,
        followers_uri=followers if same_origin(followers, actor_id) else "",
        key_id=key_id,
        public_key_pem=pem,
        also_known_as=tuple(a for a in aliases or () if isinstance(a, str))[:20],
    )
