"""Mastodon entities built from Parvis's models, a page at a time.

Counts are stored (:class:`~parvis.publishing.models.PostStats`,
:class:`~parvis.identity.models.AccountStats`, kept by triggers); they, the caller's own
reactions and bookmarks, and the mandates are read for the whole page in a few queries,
never once per status or per account (a home timeline of 40 statuses costs the same
queries as one of 1), and always those of the moment. What a status shows everyone alike
(its text, media, mentions, tags) is rendered once per version and kept in the cache
(:meth:`Renderer._fragments`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from typing import Any

from django.core.cache import cache
from django.db.models import F, Prefetch, Value
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils import timezone

from parvis.api.auth import Caller
from parvis.core.urls import absolute
from parvis.federation import ids
from parvis.federation.vocab.actors import bio_html
from parvis.identity.models import Account, AccountStats, Mandate
from parvis.identity.services import current_mandates
from parvis.interactions import threads
from parvis.interactions.models import Bookmark, Follow, Reaction
from parvis.publishing.models import (
    Draft,
    Hashtag,
    MediaAttachment,
    Poll,
    Post,
    PostStats,
    Visibility,
)

# Parvis's visibilities under Mastodon's names, both ways.
VISIBILITY_OUT = {
    Visibility.PUBLIC: "public",
    Visibility.UNLISTED: "unlisted",
    Visibility.FOLLOWERS: "private",
    Visibility.DIRECT: "direct",
}
VISIBILITY_IN = {value: key for key, value in VISIBILITY_OUT.items()}


def iso(moment: datetime) -> str:
    """A time as Mastodon writes it: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _day(moment: datetime | date | None) -> str | None:
    if moment is None:
        return None
    day = moment.date() if isinstance(moment, datetime) else moment
    return day.isoformat()


def _written_fields(account: Account) -> list[dict[str, str]]:
    """The profile's fields as their author wrote them."""
    return [
        {"name": str(f.get("name", "")), "value": str(f.get("value", ""))} for f in account.fields
    ]


def _account_counts(stats: AccountStats | None) -> dict[str, Any]:
    if stats is None:
        return {"followers": 0, "following": 0, "statuses": 0, "last": None}
    return {
        "followers": stats.followers_count,
        "following": stats.following_count,
        "statuses": stats.statuses_count,
        "last": stats.last_status_at,
    }


# What an Account entity reads beside the account's row: to join when loading accounts.
ACCOUNT_RELATED = ("domain", "institution")

# How long a rendered status fragment is kept (as the public pages' post cards).
FRAGMENT_SECONDS = 24 * 3600

# Beside Reaction.Kind's values in _Page.mine: the post is among the caller's bookmarks.
_BOOKMARK = "bookmark"


@dataclass
class _Page:
    """What the statuses of a page need beside their rows, read for all of them at once,
    by post id."""

    counts: dict[int, PostStats | None] = field(default_factory=dict)
    # The caller's reactions (Reaction.Kind) and bookmark (_BOOKMARK) of each post.
    mine: defaultdict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    media: defaultdict[int, list[MediaAttachment]] = field(
        default_factory=lambda: defaultdict(list)
    )
    mentions: defaultdict[int, list[Account]] = field(default_factory=lambda: defaultdict(list))
    tags: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    # Posts in threads the caller muted.
    muted: set[int] = field(default_factory=set)


@dataclass
class Renderer:
    """Builds entities for one request: its host, its caller, and what it loaded so far."""

    request: HttpRequest
    caller: Caller
    _account_counts: dict[int, dict[str, Any]] = field(default_factory=dict)
    _mandates: dict[int, Mandate] = field(default_factory=dict)
    _accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    _account_fragments: dict[int, dict[str, Any]] = field(default_factory=dict)
    _host: str | None = None

    # --- accounts --------------------------------------------------------------------

    def _origin_url(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def _image(self, account: Account, name: str) -> str:
        file = getattr(account, name)
        if file and account.is_local:
            return absolute(account.domain.name, file.url)
        if name == "avatar" and account.avatar_url:
            return account.avatar_url
        return self._origin_url(static(f"parvis/api/{name}.png"))

    def load_accounts(self, accounts: Iterable[Account]) -> None:
        """Read the stored counts of ``accounts`` not read yet in one query, and their
        mandates in one more when some are hosted here. Counts are never joined with the
        rows: an endpoint that changed them after loading its rows shows the new ones."""
        fresh = {a.pk: a for a in accounts if a.pk not in self._account_counts}
        if not fresh:
            return
        stored = AccountStats.objects.in_bulk(fresh)
        self._account_counts.update((pk, _account_counts(stored.get(pk))) for pk in fresh)
        self._mandates.update(current_mandates(a for a in fresh.values() if a.is_local))
        # What the entity shows of the profile, kept per version of the profile (every
        # save of an account changes ``updated_at``) and origin, as statuses' fragments.
        origin = self._origin_url("/")
        keys = {
            pk: f"api:account:{pk}:{account.updated_at.timestamp()}:{origin}"
            for pk, account in fresh.items()
        }
        found: dict[str, dict[str, Any]] = cache.get_many(list(keys.values()))
        rendered = {
            keys[pk]: self._account_fragment(account)
            for pk, account in fresh.items()
            if keys[pk] not in found
        }
        if rendered:
            cache.set_many(rendered, FRAGMENT_SECONDS)
            found.update(rendered)
        self._account_fragments.update((pk, found[key]) for pk, key in keys.items())

    def acct(self, account: Account) -> str:
        """``handle`` on the request's own domain, ``handle@domain`` anywhere else."""
        if self._host is None:
            # Read once: get_host() checks the host against ALLOWED_HOSTS on every call.
            self._host = self.request.get_host().split(":")[0]
        if account.is_local and account.domain.name == self._host:
            return account.handle
        return account.acct

    def _account_fragment(self, account: Account) -> dict[str, Any]:
        """The part of ``account``'s entity kept in the cache (see :meth:`load_accounts`)."""
        url = ids.actor_uri(account) if account.is_local else (account.url or account.uri)
        avatar, header = self._image(account, "avatar"), self._image(account, "header")
        return {
            "id": str(account.pk),
            "username": account.handle,
            "acct": self.acct(account),
            "display_name": account.display_name,
            "locked": account.locked,
            "bot": False,
            "discoverable": account.discoverable,
            "indexable": account.discoverable,
            "group": False,
            # Mastodon gives the day an account was created, at midnight.
            "created_at": iso(
                account.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
            ),
            "note": bio_html(account),
            "url": url,
            "uri": ids.actor_uri(account),
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "hide_collections": False,
            "noindex": False,
            "emojis": [],
            "roles": [],
            # Clients show a field's name and value as HTML: what was written is shown as
            # text, as the actor document shows it to other servers.
            "fields": [
                {"name": escape(f["name"]), "value": escape(f["value"]), "verified_at": None}
                for f in _written_fields(account)
            ],
        }

    def account(self, account: Account, *, source: bool = False) -> dict[str, Any]:
        """The Account entity (with ``source``: as its own token sees it)."""
        if not source and account.pk in self._accounts:
            return self._accounts[account.pk]
        self.load_accounts([account])
        counts = self._account_counts[account.pk]
        entity: dict[str, Any] = {
            **self._account_fragments[account.pk],
            "followers_count": counts["followers"],
            "following_count": counts["following"],
            "statuses_count": counts["statuses"],
            "last_status_at": _day(counts["last"]),
            "suspended": account.suspended_at is not None or None,
        }
        if account.is_local:
            mandate = self._mandates.get(account.pk)
            entity["parvis"] = {
                "kind": account.kind,
                "official": account.official_id is not None or mandate is not None,
                "institution": account.institution.name if account.institution_id else None,
                "mandate": mandate.function_label if mandate is not None else None,
                # Frozen when the mandate ended; unclaimed until its official claims it.
                "frozen": account.frozen_at is not None,
                "claimed": account.claimed_at is not None,
            }
        if source:
            entity["source"] = {
                "note": account.bio,
                # As written, for the profile form to edit.
                "fields": [{**f, "verified_at": None} for f in _written_fields(account)],
                "privacy": "public",
                "sensitive": False,
                "language": account.language,
                "follow_requests_count": Follow.objects.filter(
                    target=account, state=Follow.State.PENDING
                ).count(),
                "hide_collections": False,
                "discoverable": account.discoverable,
                "indexable": account.discoverable,
                "attribution_domains": [],
            }
        else:
            self._accounts[account.pk] = entity
        return entity

    # --- statuses --------------------------------------------------------------------

    @staticmethod
    def joined(posts: Any) -> Any:
        """A Post queryset with the rows joined that statuses need; :meth:`statuses` reads
        the others (media, mentions, tags) for all the posts it renders at once. For
        pages of statuses: cheaper than :meth:`prepare`."""
        return posts.select_related(
            "account__domain",
            "account__institution",
            "in_reply_to",
            "poll",
        )

    @classmethod
    def prepare(cls, posts: Any) -> Any:
        """A Post queryset with all the related rows statuses need, prefetched, for code
        that reads the media, mentions or tags of the posts itself."""
        return cls.joined(posts).prefetch_related(
            Prefetch("media", queryset=MediaAttachment.objects.order_by("position", "id")),
            Prefetch("mentions", queryset=Account.objects.select_related("domain")),
            Prefetch("hashtags", queryset=Hashtag.objects.order_by("id")),
        )

    def media(self, account: Account, media: MediaAttachment) -> dict[str, Any]:
        """The MediaAttachment entity of an image of ``account`` (published or not)."""
        domain = account.domain.name if account.is_local else None
        url = absolute(domain, media.file.url) if domain else media.file.url
        preview = absolute(domain, media.thumbnail.url) if domain and media.thumbnail else url
        return {
            "id": str(media.pk),
            "type": "image",
            "url": url,
            "preview_url": preview,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {
                "original": {
                    "width": media.width,
                    "height": media.height,
                    "size": f"{media.width}x{media.height}",
                    "aspect": media.width / media.height if media.height else 1,
                },
                "focus": {"x": media.focus_x, "y": media.focus_y},
            },
            "description": media.description,
            "blurhash": None,
        }

    def scheduled(self, draft: Draft) -> dict[str, Any]:
        """The ScheduledStatus entity of a draft scheduled or awaiting approval: Mastodon's
        ``params`` (with its names of visibilities), the attached images, and
        ``params.parvis_state`` saying which of the two it is (see docs/api.md)."""
        media = list(draft.media.order_by("position", "id"))
        return {
            "id": str(draft.pk),
            "scheduled_at": iso(draft.scheduled_at) if draft.scheduled_at else None,
            "params": {
                "text": draft.text,
                "poll": None,
                "media_ids": [str(m.pk) for m in media] or None,
                "sensitive": draft.sensitive,
                "spoiler_text": draft.spoiler_text or None,
                "visibility": VISIBILITY_OUT.get(draft.visibility, "public"),
                "in_reply_to_id": str(draft.in_reply_to_id) if draft.in_reply_to_id else None,
                "language": draft.language,
                "application_id": None,
                "scheduled_at": None,
                "idempotency": None,
                "with_rate_limit": False,
                "parvis_state": draft.state,
            },
            "media_attachments": [self.media(draft.account, m) for m in media],
        }

    def statuses(
        self, posts: Sequence[Post], *, accounts: Iterable[Account] = ()
    ) -> list[dict[str, Any]]:
        """The entities of ``posts`` (loaded with :meth:`joined` or :meth:`prepare`), in
        their order; the counts of ``accounts`` are read with those of the authors."""
        if not posts:
            return []
        page = _Page()
        pks = [p.pk for p in posts]
        viewer = self.caller.account
        # Read here rather than joined with the rows: see load_accounts().
        page.counts.update(PostStats.objects.in_bulk(pks))
        if viewer is not None:
            # The caller's favourites, boosts and bookmarks of the page in one statement.
            reactions = Reaction.objects.filter(account=viewer, post__in=pks)
            bookmarks = Bookmark.objects.filter(account=viewer, post__in=pks).annotate(
                kind=Value(_BOOKMARK)
            )
            for post_id, kind in reactions.values_list("post", "kind").union(
                bookmarks.values_list("post", "kind"), all=True
            ):
                page.mine[post_id].add(kind)
        fragments = self._fragments(posts, page)
        if viewer is not None and (muted := threads.muted_roots(viewer)):
            # Threads are climbed only for a caller that muted some.
            page.muted = {pk for pk, root in threads.roots_of(posts).items() if root in muted}
        # Mentions show no counts: only the authors' (and ``accounts``') are read.
        self.load_accounts([*(p.account for p in posts), *accounts])
        return [self._status(p, fragments[p.pk], page) for p in posts]

    def _fragments(self, posts: Sequence[Post], page: _Page) -> dict[int, dict[str, Any]]:
        """What the Status entities of ``posts`` show the same to every caller at every
        moment, by post id: from the cache, else rendered (reading their media, mentions
        and tags) and kept.

        A fragment's key holds what it depends on that can change: the post's last edit
        (whatever changes a published post's text, media, mentions or tags is an edit)
        and the origin the request came to (addresses and links are written relative to
        it). Counts, the caller's flags, the account and the poll are never in it.
        """
        origin = self._origin_url("/")
        keys = {
            post.pk: f"api:status:{post.pk}:{(post.edited_at or post.published_at).timestamp()}"
            f":{origin}"
            for post in posts
        }
        found: dict[str, dict[str, Any]] = cache.get_many(list(keys.values()))
        missing = [post for post in posts if keys[post.pk] not in found]
        if missing:
            self._read_related(missing, page)
            fresh = {keys[post.pk]: self._fragment(post, page) for post in missing}
            cache.set_many(fresh, FRAGMENT_SECONDS)
            found.update(fresh)
        return {pk: found[key] for pk, key in keys.items()}

    @staticmethod
    def _read_related(posts: Sequence[Post], page: _Page) -> None:
        """The media, mentions and tags of ``posts`` in three plain queries (cheaper than
        Django's prefetching, which builds a queryset per post and relation)."""
        others = [post.pk for post in posts]
        # In the orders prepare() reads them in: media by position, mentions by name, tags
        # by id.
        for media in MediaAttachment.objects.filter(post__in=others).order_by("position", "id"):
            page.media[media.post_id].append(media)
        for account in (
            Account.objects.filter(mentioned_in__in=others)
            .select_related("domain")
            .annotate(mentioned_by=F("mentioned_in"))
        ):
            page.mentions[account.mentioned_by].append(account)
        for post_id, name in (
            Post.hashtags.through.objects.filter(post__in=others)
            .values_list("post", "hashtag__name")
            .order_by("hashtag")
        ):
            page.tags[post_id].append(name)

    def status(self, post: Post) -> dict[str, Any]:
        return self.statuses([post])[0]

    def timeline(self, entries: Sequence[Post | Reaction]) -> list[dict[str, Any]]:
        """Posts and boosts in their order; a boost is a status of the booster wrapping the
        boosted one, as Mastodon shows reblogs. Boosts come with their account loaded, and
        with their post when it was loaded with :meth:`joined`."""
        boosts = [e for e in entries if isinstance(e, Reaction)]
        posts = {e.pk: e for e in entries if isinstance(e, Post)}
        # Boosted posts the caller loaded already (joined) are not read again.
        posts.update(
            (b.post_id, b.post)
            for b in boosts
            if Reaction.post.is_cached(b)  # type: ignore[attr-defined]
        )
        missing = {b.post_id for b in boosts} - posts.keys()
        if missing:
            # Keyed by id: ordering these wide rows would only cost.
            boosted = self.joined(Post.objects.filter(pk__in=missing)).order_by()
            posts.update((p.pk, p) for p in boosted)
        statuses = self.statuses(list(posts.values()), accounts=(b.account for b in boosts))
        rendered = dict(zip(posts, statuses, strict=True))
        return [
            self.boost(e, rendered[e.post_id]) if isinstance(e, Reaction) else rendered[e.pk]
            for e in entries
            if not isinstance(e, Reaction) or e.post_id in rendered
        ]

    def boost(self, reaction: Reaction, original: dict[str, Any]) -> dict[str, Any]:
        """The status of a boost: the booster's, empty, with the boosted status inside."""
        booster = reaction.account
        entity: dict[str, Any] = {
            "id": str(reaction.timeline_id),
            "uri": reaction.uri or f"{ids.actor_uri(booster)}#boosts/{reaction.timeline_id}",
            "url": None,
            "created_at": iso(reaction.created_at),
            "edited_at": None,
            "account": self.account(booster),
            "content": "",
            "visibility": original["visibility"],
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "application": None,
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "quotes_count": 0,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "reblog": original,
            "poll": None,
            "card": None,
            "language": None,
            "text": None,
            "filtered": [],
        }
        # Mastodon gives the wrapper the caller's relation to the boosted status.
        for flag in ("favourited", "reblogged", "muted", "bookmarked", "pinned"):
            if flag in original:
                entity[flag] = original[flag]
        return entity

    def poll(self, post: Post) -> dict[str, Any] | None:
        """The Poll entity of a received post's poll (None without one). Parvis does not
        vote: ``voted`` is false and ``own_votes`` empty for every caller."""
        poll: Poll | None = getattr(post, "poll", None)
        if poll is None:
            return None
        options = [
            {"title": str(o.get("title", "")), "votes_count": int(o.get("votes_count", 0))}
            for o in poll.options
        ]
        entity: dict[str, Any] = {
            "id": str(post.pk),
            "expires_at": iso(poll.expires_at) if poll.expires_at else None,
            "expired": poll.expires_at is not None and poll.expires_at <= timezone.now(),
            "multiple": poll.multiple,
            "votes_count": sum(o["votes_count"] for o in options),
            "voters_count": poll.voters_count if poll.multiple else None,
            "options": options,
            "emojis": [],
        }
        if self.caller.account is not None:
            entity.update(voted=False, own_votes=[])
        return entity

    def _fragment(self, post: Post, page: _Page) -> dict[str, Any]:
        """The part of ``post``'s Status entity kept in the cache (see :meth:`_fragments`)."""
        uri = ids.note_uri(post)
        parent = post.in_reply_to
        return {
            "id": str(post.pk),
            "uri": uri,
            "url": post.url or uri,
            "created_at": iso(post.published_at),
            "edited_at": iso(post.edited_at) if post.edited_at else None,
            "content": post.content_html,
            "visibility": VISIBILITY_OUT.get(post.visibility, "public"),
            "sensitive": post.sensitive,
            "spoiler_text": post.spoiler_text,
            "media_attachments": [self.media(post.account, m) for m in page.media[post.pk]],
            "application": None,
            "mentions": [
                {
                    "id": str(m.pk),
                    "username": m.handle,
                    "url": ids.actor_uri(m) if m.is_local else (m.url or m.uri),
                    "acct": self.acct(m),
                }
                for m in page.mentions[post.pk]
            ],
            "tags": [
                {"name": name, "url": self._origin_url(f"/tags/{name}")}
                for name in page.tags[post.pk]
            ],
            "emojis": [],
            "quotes_count": 0,
            "in_reply_to_id": str(parent.pk) if parent is not None else None,
            "in_reply_to_account_id": str(parent.account_id) if parent is not None else None,
            "reblog": None,
            "card": None,
            "language": post.language or None,
            "text": None,
            "filtered": [],
        }

    def _status(self, post: Post, fragment: dict[str, Any], page: _Page) -> dict[str, Any]:
        viewer = self.caller.account
        counts, mine = page.counts.get(post.pk), page.mine[post.pk]
        entity: dict[str, Any] = {
            **fragment,
            "account": self.account(post.account),
            "reblogs_count": counts.reblogs_count if counts else 0,
            "favourites_count": counts.favourites_count if counts else 0,
            "replies_count": counts.replies_count if counts else 0,
            "poll": self.poll(post),
        }
        if viewer is not None:
            entity.update(
                favourited=Reaction.Kind.FAVOURITE in mine,
                reblogged=Reaction.Kind.BOOST in mine,
                muted=post.pk in page.muted,
                bookmarked=_BOOKMARK in mine,
                pinned=post.account_id == viewer.pk and post.pinned_at is not None,
            )
        return entity
