"""The entities of the Mastodon client API, with the fields and types strict clients expect.

These are the response schemas of the OpenAPI document as well; :mod:`parvis.api.entities`
builds them from Parvis's models. Ids are strings, times ISO 8601 strings in UTC.

They derive from pydantic's ``BaseModel``, not from ``ninja.Schema``: the views return
plain dicts, and ``ninja.Schema`` validates each nested dict through an attribute wrapper
(``DjangoGetter``, for reading model instances) that cost a quarter of a page of statuses.
django-ninja documents them the same way in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Error(BaseModel):
    error: str


class Empty(BaseModel):
    """Mastodon's ``{}``."""


# The error answers most routes declare (all with the Error body), and with 413 those of
# routes reading forms or uploads, refused when too big before the view runs.
ERRORS: dict[int, type[BaseModel]] = {400: Error, 401: Error, 403: Error, 404: Error, 422: Error}
WRITE_ERRORS: dict[int, type[BaseModel]] = {**ERRORS, 413: Error}


class Field(BaseModel):
    name: str
    value: str
    verified_at: str | None = None


class CustomEmoji(BaseModel):
    shortcode: str
    url: str
    static_url: str
    visible_in_picker: bool


class Role(BaseModel):
    id: str
    name: str
    color: str


class Source(BaseModel):
    note: str
    fields: list[Field]
    privacy: str
    sensitive: bool
    language: str
    follow_requests_count: int
    hide_collections: bool | None
    discoverable: bool | None
    indexable: bool
    attribution_domains: list[str]


class ParvisAccount(BaseModel):
    """Parvis's own attributes (clients ignore them): what the server attests."""

    kind: str
    official: bool
    institution: str | None
    mandate: str | None
    frozen: bool
    claimed: bool


class Account(BaseModel):
    id: str
    username: str
    acct: str
    display_name: str
    locked: bool
    bot: bool
    discoverable: bool | None
    indexable: bool
    group: bool
    created_at: str
    note: str
    url: str
    uri: str
    avatar: str
    avatar_static: str
    header: str
    header_static: str
    followers_count: int
    following_count: int
    statuses_count: int
    last_status_at: str | None
    hide_collections: bool | None
    noindex: bool | None
    emojis: list[CustomEmoji]
    roles: list[Role]
    fields: list[Field]
    moved: Account | None = None
    suspended: bool | None = None
    limited: bool | None = None
    source: Source | None = None
    parvis: ParvisAccount | None = None


class MediaAttachment(BaseModel):
    id: str
    type: str
    url: str | None
    preview_url: str | None
    remote_url: str | None
    preview_remote_url: str | None = None
    text_url: str | None = None
    meta: dict[str, Any] | None
    description: str | None
    blurhash: str | None


class Mention(BaseModel):
    id: str
    username: str
    url: str
    acct: str


class Tag(BaseModel):
    name: str
    url: str


class StatusApplication(BaseModel):
    name: str
    website: str | None


class PollOption(BaseModel):
    title: str
    votes_count: int | None


class Poll(BaseModel):
    id: str
    expires_at: str | None
    expired: bool
    multiple: bool
    votes_count: int
    voters_count: int | None
    options: list[PollOption]
    emojis: list[CustomEmoji]
    voted: bool | None = None
    own_votes: list[int] | None = None


class Status(BaseModel):
    id: str
    uri: str
    url: str | None
    created_at: str
    edited_at: str | None
    account: Account
    content: str
    visibility: str
    sensitive: bool
    spoiler_text: str
    media_attachments: list[MediaAttachment]
    application: StatusApplication | None
    mentions: list[Mention]
    tags: list[Tag]
    emojis: list[CustomEmoji]
    reblogs_count: int
    favourites_count: int
    replies_count: int
    quotes_count: int
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    reblog: Status | None
    poll: Poll | None
    card: dict[str, Any] | None
    language: str | None
    text: str | None
    favourited: bool | None = None
    reblogged: bool | None = None
    muted: bool | None = None
    bookmarked: bool | None = None
    pinned: bool | None = None
    filtered: list[dict[str, Any]] = []


class Context(BaseModel):
    ancestors: list[Status]
    descendants: list[Status]


class Application(BaseModel):
    id: str | None = None
    name: str
    website: str | None
    scopes: list[str] = []
    redirect_uri: str | None = None
    redirect_uris: list[str] = []
    vapid_key: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_expires_at: int | None = None


class Relationship(BaseModel):
    id: str
    following: bool
    showing_reblogs: bool
    notifying: bool
    languages: list[str] | None
    followed_by: bool
    blocking: bool
    blocked_by: bool
    muting: bool
    muting_notifications: bool
    requested: bool
    requested_by: bool
    domain_blocking: bool
    endorsed: bool
    note: str
