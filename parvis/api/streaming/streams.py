"""Mastodon's streams: their names, what each asks of the token, and what each lets through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from parvis.api.auth import Caller
from parvis.core.text import normalize_hashtag

USER = "user"
NOTIFICATIONS = "user:notification"
# The streams of public posts, without and with ``:media``.
PUBLIC_STREAMS = frozenset(
    {
        "public",
        "public:media",
        "public:local",
        "public:local:media",
        "public:remote",
        "public:remote:media",
        "hashtag",
        "hashtag:local",
    }
)
HASHTAG_STREAMS = frozenset({"hashtag", "hashtag:local"})
STREAMS = PUBLIC_STREAMS | {USER, NOTIFICATIONS}

# Server-sent events: one stream per URL, as Mastodon's streaming server names them.
HTTP_PATHS = {
    "/api/v1/streaming/user": USER,
    "/api/v1/streaming/user/notification": NOTIFICATIONS,
    "/api/v1/streaming/public": "public",
    "/api/v1/streaming/public/local": "public:local",
    "/api/v1/streaming/public/remote": "public:remote",
    "/api/v1/streaming/hashtag": "hashtag",
    "/api/v1/streaming/hashtag/local": "hashtag:local",
}

# Mastodon's idea of a false query parameter (``only_media=0``).
_FALSE = {"", "0", "f", "false", "off", "no", "n"}


class StreamError(Exception):
    """A subscription refused: sent to the client as ``{"error": …, "status": …}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PostFacts:
    """What routing needs to know of a post (``tags`` is None when no longer known: the
    hashtags of a deleted post are erased with it)."""

    public: bool
    local: bool
    media: bool
    tags: frozenset[str] | None


@dataclass(frozen=True)
class Subscription:
    """One stream a connection listens to; two are the same when name and tag are."""

    name: str
    # The folded hashtag (as Parvis stores hashtags) for hashtag streams, else "".
    tag: str = ""
    # The ``stream`` array of WebSocket messages: the name, and the tag as the client wrote it.
    label: tuple[str, ...] = field(default=(), compare=False)

    @property
    def public(self) -> bool:
        return self.name in PUBLIC_STREAMS

    @property
    def user(self) -> bool:
        return self.name == USER

    @property
    def notifications(self) -> bool:
        return self.name in (USER, NOTIFICATIONS)

    def accepts(self, post: PostFacts) -> bool:
        """Whether a public post belongs to this public stream."""
        if not self.public or not post.public:
            return False
        parts = self.name.split(":")
        if "local" in parts and not post.local:
            return False
        if "remote" in parts and post.local:
            return False
        if "media" in parts and not post.media:
            return False
        if self.name in HASHTAG_STREAMS:
            return post.tags is None or self.tag in post.tags
        return True


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE


def subscription(
    name: str, params: Mapping[str, str], caller: Caller, *, check: bool = True
) -> Subscription:
    """The subscription ``name`` with ``params`` (``tag``, ``only_media``) for ``caller``.

    Raises :class:`StreamError` as Mastodon refuses: an unknown stream or a hashtag stream
    without a tag (400), a user stream without a user token or its scope (401; not
    checked without ``check``, to leave a stream).
    """
    name = name.strip()
    if name in ("public", "public:local", "public:remote") and _truthy(params.get("only_media")):
        name += ":media"
    if name not in STREAMS:
        raise StreamError(400, _("Type de flux inconnu"))
    if name in (USER, NOTIFICATIONS):
        if not check:
            return Subscription(name, label=(name,))
        if caller.account is None:
            raise StreamError(401, _("Ce flux demande un jeton d'accès d'utilisateur"))
        needed = "read:notifications" if name == NOTIFICATIONS else "read:statuses"
        if not caller.may(needed):
            raise StreamError(401, _("Le jeton d'accès ne couvre pas les portées requises"))
        return Subscription(name, label=(name,))
    if name in HASHTAG_STREAMS:
        given = params.get("tag") or ""
        raw = given.strip().lstrip("#")
        if not raw:
            raise StreamError(400, _("Aucun mot-clé n'est indiqué pour ce flux"))
        # Clients match events to their subscriptions by the tag they sent, as they sent it.
        return Subscription(name, normalize_hashtag(raw[:100]), label=(name, given))
    return Subscription(name, label=(name,))
