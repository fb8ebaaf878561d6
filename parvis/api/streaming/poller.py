"""The poller: each pass reads what changed in the tables and streams it to this process's
listeners (see the package's docstring for why the tables are polled).

A pass reads four things, each through an index:

- posts created in the last ``PARVIS_STREAMING_LOOKBACK_SECONDS``, by id (ids carry their
  creation time); those already streamed are remembered, so that a transaction that
  committed late, its id older than the previous pass, is streamed all the same;
- posts edited or deleted in that window (``edited_at``, ``deleted_at``: partial indexes
  of parvis/api/migrations/0003_streaming_indexes.py);
- notifications of the accounts connected here, above the highest id seen one lookback
  ago (ids of a sequence are given in insert order, and committed in any order);
- every minute, whether the tokens of the connections are still valid.

It reads everything, renders every payload, and only then marks the events seen and
hands the frames over: a pass that fails on the database streams nothing and the next one
tries again. A pass that fails otherwise (a bug in rendering) drops its events, logged,
rather than fail on them forever.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, close_old_connections, connections
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from parvis.api.auth import ANONYMOUS, Caller
from parvis.api.endpoints.notifications import GROUPABLE, group_key
from parvis.api.entities import Renderer, iso
from parvis.api.streaming.hub import Listener
from parvis.api.streaming.streams import PostFacts, Subscription
from parvis.core.ids import id_time, min_id_for
from parvis.interactions.models import Block, Follow, Notification
from parvis.publishing.models import Post, Visibility

logger = logging.getLogger(__name__)

# What a followed account's post must be to reach a follower's home (timelines.home()).
HOME_VISIBILITIES = (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS)
TOKEN_CHECK_SECONDS = 60.0
# Hashtags of recently streamed posts, to route their deletion (deleting erases them).
TAGS_REMEMBERED = 10_000


def _dumps(entity: Any) -> str:
    return json.dumps(entity, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder)


@dataclass
class PostEvent:
    """A post to stream: new (``update``), edited (``status.update``) or ``delete``d."""

    event: str
    post_id: int
    author_id: int
    at: datetime
    facts: PostFacts
    # The connected accounts whose home timeline shows the post.
    home: frozenset[int]


@dataclass
class Found:
    """What one pass read and has not marked seen yet."""

    posts: list[int] = field(default_factory=list)
    edits: list[tuple[int, datetime]] = field(default_factory=list)
    deletes: list[tuple[int, datetime]] = field(default_factory=list)
    notifications: list[tuple[int, datetime]] = field(default_factory=list)
    tags: dict[int, frozenset[str]] = field(default_factory=dict)


class Poller(threading.Thread):
    """This process's poller: a daemon thread with its own database connection."""

    def __init__(self, listeners: Callable[[], list[Listener]]) -> None:
        super().__init__(name="parvis-streaming-poller", daemon=True)
        self._listeners = listeners
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._reset()

    def _reset(self) -> None:
        """Forget what was streamed (the poller starts again after an idle spell)."""
        self._posts_seen: set[int] = set()
        self._edits_seen: set[tuple[int, datetime]] = set()
        self._deletes_seen: dict[int, datetime] = {}
        self._notifications_seen: dict[int, datetime] = {}
        # (time, highest notification id then): the id floor of the notification query.
        self._marks: deque[tuple[datetime, int]] = deque()
        self._tags: OrderedDict[int, frozenset[str]] = OrderedDict()
        self._tokens_checked = 0.0

    def wake(self) -> None:
        self._woken.set()

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                listeners = self._listeners()
                if not listeners:
                    # Idle: no query and no database connection until someone connects.
                    connections.close_all()
                    self._reset()
                    self._woken.wait()
                    continue
                started = time.monotonic()
                self.poll(listeners)
                interval = float(settings.PARVIS_STREAMING_POLL_SECONDS)
                self._stopping.wait(max(0.0, interval - (time.monotonic() - started)))
        finally:
            connections.close_all()

    def poll(self, listeners: list[Listener]) -> None:
        """One pass; never raises (the thread must outlive a database outage)."""
        close_old_connections()
        found = Found()
        try:
            self._pass(listeners, found)
        except DatabaseError as error:
            logger.warning("streaming: database read failed, next pass retries: %s", error)
        except Exception:
            logger.exception("streaming: pass failed; its events are dropped")
            self._mark(found)

    # --- one pass --------------------------------------------------------------------

    def _pass(self, listeners: list[Listener], found: Found) -> None:
        now = timezone.now()
        horizon = now - timedelta(seconds=float(settings.PARVIS_STREAMING_LOOKBACK_SECONDS))
        self._forget(horizon)
        listeners = self._check_tokens(listeners, now)
        if not listeners:
            return
        earliest = min(listener.since for listener in listeners)
        homes = {
            listener.account_id
            for listener in listeners
            if listener.account_id is not None and any(s.user for s in listener.subscriptions)
        }
        public = any(s.public for listener in listeners for s in listener.subscriptions)

        # What changed: ids and times only, each through an index (no ordering: the one of
        # Post would make the database walk the primary key rather than the index).
        found.posts = [
            pk
            for pk in Post.objects.filter(id__gte=min_id_for(horizon))
            .order_by()
            .values_list("id", flat=True)
            if pk not in self._posts_seen
        ]
        found.edits = [
            (pk, at)
            for pk, at in Post.objects.filter(edited_at__gte=horizon, deleted_at__isnull=True)
            .order_by()
            .values_list("id", "edited_at")
            if (pk, at) not in self._edits_seen
        ]
        deleted = [
            row
            for row in Post.objects.filter(deleted_at__gte=horizon)
            .order_by()
            .values_list("id", "deleted_at", "account_id", "visibility", "uri")
            if row[0] not in self._deletes_seen
        ]
        found.deletes = [(row[0], row[1]) for row in deleted]
        notifications = self._notifications(listeners, now, horizon, earliest, found)

        # Which of them concern a listener here (the others are only marked seen).
        changed: dict[int, tuple[str, datetime]] = {}
        if public or homes:
            changed.update(
                (pk, ("update", id_time(pk))) for pk in found.posts if id_time(pk) >= earliest
            )
            changed.update((pk, ("status.update", at)) for pk, at in found.edits if at >= earliest)
        deleted = [row for row in deleted if (public or homes) and row[1] >= earliest]
        posts = self._load(changed, public, homes)
        follows = self._follows(
            homes, {p.account_id for p in posts.values()} | {row[2] for row in deleted}
        )

        events: list[PostEvent] = []
        for pk, (event, at) in sorted(changed.items(), key=lambda item: (item[1][1], item[0])):
            post = posts.get(pk)
            if post is None:
                continue
            tags = frozenset(tag.name for tag in post.hashtags.all())
            found.tags[pk] = tags
            facts = PostFacts(
                public=post.visibility == Visibility.PUBLIC,
                local=post.uri == "",
                media=bool(post.media.all()),
                tags=tags,
            )
            home = self._home(homes, follows, post.account_id, post.visibility)
            events.append(PostEvent(event, pk, post.account_id, at, facts, home))
        for pk, at, author, visibility, uri in sorted(deleted, key=lambda row: (row[1], row[0])):
            # The deleted post's images are gone too: media streams get its deletion.
            facts = PostFacts(
                public=visibility == Visibility.PUBLIC,
                local=uri == "",
                media=True,
                tags=self._tags.get(pk),
            )
            home = self._home(homes, follows, author, visibility)
            events.append(PostEvent("delete", pk, author, at, facts, home))

        plans = self._route(listeners, events, notifications)
        frames = self._render(plans, posts, notifications)
        self._mark(found)
        for listener, items in frames.items():
            if items:
                listener.deliver(items)

    def _forget(self, horizon: datetime) -> None:
        """Drop what the next queries can no longer return (older than the window)."""
        floor = min_id_for(horizon)
        self._posts_seen = {pk for pk in self._posts_seen if pk >= floor}
        self._edits_seen = {key for key in self._edits_seen if key[1] >= horizon}
        self._deletes_seen = {pk: at for pk, at in self._deletes_seen.items() if at >= horizon}
        self._notifications_seen = {
            pk: at for pk, at in self._notifications_seen.items() if at >= horizon
        }
        while len(self._marks) > 1 and self._marks[1][0] <= horizon:
            self._marks.popleft()

    def _mark(self, found: Found) -> None:
        self._posts_seen.update(found.posts)
        self._edits_seen.update(found.edits)
        self._deletes_seen.update(found.deletes)
        self._notifications_seen.update(found.notifications)
        for pk, tags in found.tags.items():
            self._tags[pk] = tags
            self._tags.move_to_end(pk)
        while len(self._tags) > TAGS_REMEMBERED:
            self._tags.popitem(last=False)

    def _check_tokens(self, listeners: list[Listener], now: datetime) -> list[Listener]:
        """Close the connections whose token was revoked or expired (every minute)."""
        if time.monotonic() - self._tokens_checked < TOKEN_CHECK_SECONDS:
            return listeners
        tokens = {
            listener.caller.token.pk for listener in listeners if listener.caller.token is not None
        }
        alive = set(
            AccessToken.objects.filter(pk__in=tokens, expires__gt=now).values_list("pk", flat=True)
        )
        self._tokens_checked = time.monotonic()
        kept = []
        for listener in listeners:
            token = listener.caller.token
            if token is not None and token.pk not in alive:
                listener.close()
            else:
                kept.append(listener)
        return kept

    def _notifications(
        self,
        listeners: list[Listener],
        now: datetime,
        horizon: datetime,
        earliest: datetime,
        found: Found,
    ) -> list[Notification]:
        """New notifications of the accounts with a notification stream here."""
        recipients = {
            listener.account_id
            for listener in listeners
            if listener.account_id is not None
            and listener.caller.may("read:notifications")
            and any(s.notifications for s in listener.subscriptions)
        }
        top = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
        if not self._marks:
            # The highest id of a notification older than the window: the ones above it
            # were all written within it (the scan stops at the first older one).
            start = (
                Notification.objects.filter(created_at__lt=horizon)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
            self._marks.append((horizon, start or 0))
        self._marks.append((now, top))
        if not recipients:
            return []
        floor = self._marks[0][1]
        rows = (
            Notification.objects.filter(
                Q(post__isnull=True) | Q(post__deleted_at__isnull=True),
                id__gt=floor,
                recipient__in=recipients,
                created_at__gte=horizon,
                # As the notifications API: what suspended accounts did is hidden.
                from_account__suspended_at__isnull=True,
            )
            .select_related(
                "from_account__domain",
                "from_account__institution",
                "from_account__moved_to__domain",
                "from_account__moved_to__institution",
            )
            .order_by("id")
        )
        fresh = [row for row in rows if row.pk not in self._notifications_seen]
        found.notifications = [(row.pk, row.created_at) for row in fresh]
        return [row for row in fresh if row.created_at >= earliest]

    def _load(
        self,
        changed: dict[int, tuple[str, datetime]],
        public: bool,
        homes: set[int],
    ) -> dict[int, Post]:
        """The changed posts some listener here may be shown, ready to render."""
        if not changed:
            return {}
        audience = Q(visibility=Visibility.PUBLIC) if public else Q(pk__in=[])
        if homes:
            followed = Follow.objects.filter(
                follower__in=homes, state=Follow.State.ACCEPTED
            ).values("target")
            audience |= Q(account__in=homes) | Q(
                account__in=followed, visibility__in=HOME_VISIBILITIES
            )
        rows = Renderer.prepare(
            Post.objects.filter(
                audience,
                id__in=list(changed),
                deleted_at__isnull=True,
                account__suspended_at__isnull=True,
            )
        )
        return {post.pk: post for post in rows}

    @staticmethod
    def _follows(homes: set[int], authors: set[int]) -> set[tuple[int, int]]:
        """(follower, followed) pairs between the connected accounts and the authors."""
        if not homes or not authors:
            return set()
        return set(
            Follow.objects.filter(
                follower__in=homes, target__in=authors, state=Follow.State.ACCEPTED
            ).values_list("follower", "target")
        )

    @staticmethod
    def _home(
        homes: set[int], follows: set[tuple[int, int]], author: int, visibility: str
    ) -> frozenset[int]:
        """The connected accounts whose home timeline has a post (timelines.home())."""
        return frozenset(
            account
            for account in homes
            if account == author
            or (visibility in HOME_VISIBILITIES and (account, author) in follows)
        )

    # --- routing and rendering ---------------------------------------------------------

    def _route(
        self,
        listeners: list[Listener],
        events: list[PostEvent],
        notifications: list[Notification],
    ) -> dict[Listener, list[tuple[Subscription, str, Any]]]:
        """For each listener, in order: (subscription, event, what its payload is)."""
        viewers = {
            listener.account_id
            for listener in listeners
            if listener.account_id is not None and any(s.public for s in listener.subscriptions)
        }
        authors = {event.author_id for event in events}
        blocks: set[tuple[int, int]] = set()
        if viewers and authors:
            # Either way, a block keeps an account's posts off the other's public streams.
            for account, target in Block.objects.filter(
                Q(account__in=viewers, target__in=authors)
                | Q(account__in=authors, target__in=viewers)
            ).values_list("account", "target"):
                blocks.update({(account, target), (target, account)})

        plans: dict[Listener, list[tuple[Subscription, str, Any]]] = {}
        for listener in listeners:
            subscriptions = sorted(listener.subscriptions, key=lambda s: (s.name, s.tag))
            me = listener.account_id
            items: list[tuple[Subscription, str, Any]] = []
            for event in events:
                if event.at < listener.since:
                    continue
                for subscription in subscriptions:
                    if subscription.accepts(event.facts) and (me, event.author_id) not in blocks:
                        items.append((subscription, event.event, (None, event)))
                    elif subscription.user and me in event.home:
                        items.append((subscription, event.event, (me, event)))
            if listener.caller.may("read:notifications"):
                for row in notifications:
                    if row.recipient_id != me or row.created_at < listener.since:
                        continue
                    for subscription in subscriptions:
                        if subscription.notifications:
                            items.append((subscription, "notification", row))
            plans[listener] = items
        return plans

    def _render(
        self,
        plans: dict[Listener, list[tuple[Subscription, str, Any]]],
        posts: dict[int, Post],
        notifications: list[Notification],
    ) -> dict[Listener, list[str]]:
        """Frames for each listener, each payload rendered once per audience and origin:
        anonymously for public streams, as the account for its own streams."""
        wanted: dict[tuple[int | None, Any], set[int]] = defaultdict(set)
        noted: dict[tuple[int | None, Any], set[int]] = defaultdict(set)
        context: dict[tuple[int | None, Any], tuple[HttpRequest, Caller]] = {}
        for listener, items in plans.items():
            for _subscription, event, what in items:
                if isinstance(what, Notification):
                    key = (listener.account_id, listener.origin)
                    noted[key].add(what.pk)
                elif event != "delete":
                    audience, post_event = what
                    key = (audience, listener.origin)
                    wanted[key].add(post_event.post_id)
                else:
                    continue
                context.setdefault(
                    key, (listener.request, listener.caller if key[0] is not None else ANONYMOUS)
                )

        statuses: dict[tuple[int | None, Any], dict[int, str]] = {}
        for key, pks in wanted.items():
            request, caller = context[key]
            rows = [posts[pk] for pk in sorted(pks)]
            entities = Renderer(request, caller).statuses(rows)
            statuses[key] = {
                post.pk: _dumps(entity) for post, entity in zip(rows, entities, strict=True)
            }
        by_id = {row.pk: row for row in notifications}
        notes: dict[tuple[int | None, Any], dict[int, str]] = {}
        for key, pks in noted.items():
            request, caller = context[key]
            notes[key] = _notification_payloads(
                Renderer(request, caller), [by_id[pk] for pk in sorted(pks)]
            )

        frames: dict[Listener, list[str]] = {}
        for listener, items in plans.items():
            out = []
            for subscription, event, what in items:
                if isinstance(what, Notification):
                    payload = notes[(listener.account_id, listener.origin)][what.pk]
                else:
                    audience, post_event = what
                    if event == "delete":
                        payload = str(post_event.post_id)
                    else:
                        payload = statuses[(audience, listener.origin)][post_event.post_id]
                out.append(listener.frame(subscription, event, payload))
            frames[listener] = out
        return frames


def _notification_payloads(renderer: Renderer, rows: Iterable[Notification]) -> dict[int, str]:
    """Notification entities as the notifications API renders them, as JSON strings."""
    rows = list(rows)
    post_ids = {row.post_id for row in rows if row.post_id is not None}
    statuses: dict[int, dict[str, Any]] = {}
    if post_ids:
        posts = list(Renderer.prepare(Post.objects.filter(pk__in=post_ids)).order_by("-pk"))
        statuses = {
            post.pk: entity for post, entity in zip(posts, renderer.statuses(posts), strict=True)
        }
    renderer.load_accounts(row.from_account for row in rows)
    payloads = {}
    for row in rows:
        entity: dict[str, Any] = {
            "id": str(row.pk),
            "type": row.kind,
            "group_key": group_key(row.pk, row.kind, row.post_id, row.created_at, GROUPABLE),
            "created_at": iso(row.created_at),
            "account": renderer.account(row.from_account),
            "status": statuses.get(row.post_id) if row.post_id is not None else None,
        }
        moved_to = row.from_account.moved_to
        if row.kind == Notification.Kind.MOVE and moved_to is not None:
            entity["target"] = renderer.account(moved_to)
        payloads[row.pk] = _dumps(entity)
    return payloads
