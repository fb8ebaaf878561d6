"""Signed requests from a remote actor served on loopback (test helpers)."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.test import Client

from parvis.federation import signatures
from tests.federation.sink import Sink

INBOX = "https://social.blois.fr/inbox"
VILLE = "https://social.blois.fr/@ville"


@dataclass
class Remote:
    sink: Sink
    uri: str
    key_id: str
    key: object

    def activity(self, kind: str, obj: object, suffix: str = "1") -> dict:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.uri}/activities/{kind.lower()}/{suffix}",
            "type": kind,
            "actor": self.uri,
            "object": obj,
        }


def make_remote(sink: Sink, name: str = "alice") -> Remote:
    uri = sink.url(f"/users/{name}")
    key = signatures.generate_rsa_key()
    sink.documents[f"/users/{name}"] = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": uri,
        "type": "Person",
        "preferredUsername": name,
        "inbox": f"{uri}/inbox",
        "endpoints": {"sharedInbox": sink.url("/inbox")},
        "publicKey": {
            "id": f"{uri}#main-key",
            "owner": uri,
            "publicKeyPem": signatures.public_pem(key),
        },
    }
    return Remote(sink, uri, f"{uri}#main-key", key)


def post(
    activity: dict | bytes,
    *,
    key_id: str,
    key: object,
    url: str = INBOX,
    scheme: str = "cavage",
    tamper: dict[str, str | None] | None = None,
    now: datetime | None = None,
):
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    host = url.split("/")[2]
    headers = {"Host": host, "Content-Type": "application/activity+json"}
    sign = signatures.sign_rfc9421 if scheme == "rfc9421" else signatures.sign_cavage
    headers.update(sign("POST", url, headers, body, key_id, key, now=now))
    headers.update(tamper or {})
    headers = {k: v for k, v in headers.items() if v is not None}
    path = url.split(host, 1)[1]
    meta = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in headers.items()
        if k.lower() not in ("content-type", "host")
    }
    return Client(HTTP_HOST=host).post(
        path, body, content_type="application/activity+json", secure=url.startswith("https"), **meta
    )
