"""OrderedCollections (outbox, followers, following, featured) and their pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parvis.federation.vocab.context import AS


def render_collection(
    uri: str, total: int, *, first: str | None = None, items: Sequence[Any] | None = None
) -> dict[str, Any]:
    """An OrderedCollection, either inline (``items``) or pointing at its first page."""
    collection: dict[str, Any] = {
        "@context": AS,
        "id": uri,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if items is not None:
        collection["orderedItems"] = list(items)
    elif first is not None:
        collection["first"] = first
    return collection


def render_page(
    uri: str, part_of: str, items: Sequence[Any], *, next_uri: str | None
) -> dict[str, Any]:
    """One OrderedCollectionPage."""
    page: dict[str, Any] = {
        "@context": AS,
        "id": uri,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": list(items),
    }
    if next_uri:
        page["next"] = next_uri
    return page
