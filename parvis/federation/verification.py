"""Who signed an incoming request: one verification for inboxes and signed fetches."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from parvis.federation import signatures
from parvis.federation.remote import key_owner, public_key


def verify_request(request: HttpRequest, body: bytes | None) -> str:
    """The URI of the actor whose key signed the request (raises on any doubt)."""
    url = request.build_absolute_uri()
    owners: dict[str, str] = {}

    def resolve(key_id: str, refresh: bool = False) -> Any:
        owner = key_owner(key_id, refresh=refresh)
        owners[key_id] = owner.uri
        return public_key(owner)

    try:
        verified = signatures.verify(request.method or "POST", url, request.headers, body, resolve)
    except signatures.BadSignature:
        # The actor may have rotated its key: fetch it once more before refusing.
        verified = signatures.verify(
            request.method or "POST",
            url,
            request.headers,
            body,
            lambda key_id: resolve(key_id, refresh=True),
        )
    return owners[verified.key_id]
