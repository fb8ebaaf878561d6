"""Time-sortable 64-bit ids, as Mastodon uses for statuses.

Clients paginate with ``max_id``/``since_id`` and assume that a larger id is a
newer object, so the id carries the creation time in milliseconds in its high
bits and 16 random bits below to keep concurrent writers apart.
"""

import secrets
from datetime import UTC, datetime

from django.utils import timezone

_RANDOM_BITS = 16


def time_id(at: datetime | None = None) -> int:
    """Return a new id for an object created at ``at`` (now by default)."""
    moment = at or timezone.now()
    millis = int(moment.timestamp() * 1000)
    return (millis << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)


def id_time(value: int) -> datetime:
    """Return the creation time encoded in an id made by :func:`time_id`."""
    millis = value >> _RANDOM_BITS
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def min_id_for(at: datetime) -> int:
    """Return the smallest id an object created at ``at`` can have (for range queries)."""
    return int(at.timestamp() * 1000) << _RANDOM_BITS
