"""Actor documents of local accounts."""

from __future__ import annotations

from html import escape
from typing import Any

from parvis.core.urls import absolute
from parvis.federation import ids
from parvis.federation.keys import keys_for
from parvis.federation.vocab.context import ACTOR_CONTEXT, xsd_datetime
from parvis.identity.models import Account, AccountKind

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
        "manuallyApprovesFollowers": False,
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
    return document
