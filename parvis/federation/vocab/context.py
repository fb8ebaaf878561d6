"""JSON-LD contexts of the documents Parvis serves (the terms Mastodon uses)."""

from datetime import datetime

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SECURITY = "https://w3id.org/security/v1"
MULTIKEY = "https://w3id.org/security/multikey/v1"

EXTENSIONS = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "toot": "http://joinmastodon.org/ns#",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}

ACTOR_CONTEXT = [AS, SECURITY, MULTIKEY, EXTENSIONS]
OBJECT_CONTEXT = [AS, EXTENSIONS]


def xsd_datetime(value: datetime) -> str:
    """A UTC time as ActivityPub documents write it (``2026-11-21T16:00:00Z``)."""
    return value.isoformat().replace("+00:00", "Z")
