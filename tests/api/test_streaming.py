"""The streaming API, driven through parvis.asgi's ASGI application as a server would.

The poller reads the tables from its own thread, so these tests commit for real
(``transaction=True``). Each scenario runs on an event loop (``async_to_sync``) while the
test's thread does the database work (``sync_to_async``), as the server's Django thread
would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import OperationalError
from django.utils import timezone
from oauth2_provider.models import AccessToken

from parvis.api.streaming import poller
from parvis.api.streaming.hub import hub
from parvis.asgi import application
from parvis.core.ids import time_id
from parvis.identity.models import Account, Staff
from parvis.interactions.models import Block
from parvis.interactions.services import record_follow
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content, delete_post, edit_post, publish_post

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "social.blois.fr"
WAIT = 5.0  # seconds an expected event may take
QUIET = 0.6  # seconds of silence that show an event is not coming
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _streaming(settings, transactional_db):
    settings.PARVIS_STREAMING_POLL_SECONDS = 0.05
    settings.PARVIS_STREAMING_HEARTBEAT_SECONDS = 30.0
    yield
    # Before the database is emptied: the poller must not read while it is.
    hub.shutdown()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` on an event loop; its ``sync_to_async`` work runs on this thread."""
    async_to_sync(scenario)()


def _retrying(work: Callable[[], T]) -> T:
    """``work()``, again while SQLite's in-memory test database says a table is locked:
    its readers (the poller) lock whole tables, where a file database in WAL mode never
    makes a writer wait for a reader."""
    for _attempt in range(100):
        try:
            return work()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.01)
    return work()


async def db(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Database work on the test's thread, from the scenario's event loop."""
    return await sync_to_async(_retrying)(lambda: work(*args, **kwargs))


def _headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", HOST.encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]


class Socket:
    """A WebSocket client of the ASGI application."""

    def __init__(
        self,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
        path: str = "/api/v1/streaming",
    ) -> None:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query or {}).encode(),
            "headers": _headers(headers or {}),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "subprotocols": subprotocols or [],
            "state": {},
        }
        self.communicator = ApplicationCommunicator(application, scope)

    async def connect(self) -> dict[str, Any]:
        """The server's answer to the handshake (accept, or close)."""
        await self.communicator.send_input({"type": "websocket.connect"})
        return await self.communicator.receive_output(WAIT)

    async def open(self) -> Socket:
        answer = await self.connect()
        assert answer["type"] == "websocket.accept", answer
        return self

    async def send(self, document: dict[str, Any]) -> None:
        await self.communicator.send_input(
            {"type": "websocket.receive", "text": json.dumps(document)}
        )

    async def receive(self) -> dict[str, Any]:
        message = await self.communicator.receive_output(WAIT)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def nothing(self) -> bool:
        return await self.communicator.receive_nothing(QUIET)

    async def close(self) -> None:
        await self.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.communicator.wait(WAIT)


class EventStream:
    """A server-sent events client of the ASGI application."""

    def __init__(
        self, path: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query or {}).encode(),
            "headers": _headers(headers or {}),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        self.communicator = ApplicationCommunicator(application, scope)
        self.buffer = b""

    async def start(self) -> tuple[int, dict[bytes, bytes]]:
        """Status and headers of the answer."""
        await self.communicator.send_input({"type": "http.request", "body": b""})
        start = await self.communicator.receive_output(WAIT)
        assert start["type"] == "http.response.start", start
        return start["status"], dict(start["headers"])

    async def body(self) -> bytes:
        """The whole body of an answer that is not a stream."""
        chunks = b""
        while True:
            message = await self.communicator.receive_output(WAIT)
            chunks += message.get("body", b"")
            if not message.get("more_body"):
                return chunks

    async def until(self, marker: bytes) -> bytes:
        """The stream up to and with ``marker``, waiting for it."""
        while marker not in self.buffer:
            message = await self.communicator.receive_output(WAIT)
            assert message["type"] == "http.response.body", message
            self.buffer += message["body"]
        head, _sep, self.buffer = self.buffer.partition(marker)
        return head + marker

    async def event(self) -> tuple[str, str]:
        """The next event, the comments before it skipped: its name and its data."""
        frame = (await self.until(b"\n\n")).decode()
        lines = [line for line in frame.split("\n") if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines)
        assert set(fields) == {"event", "data"}, frame
        return fields["event"], fields["data"]

    async def close(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(WAIT)


def _publish(
    staff: Staff, account: Account, text: str, visibility: str = Visibility.PUBLIC
) -> Post:
    return publish_post(staff, account, Content(text, visibility=visibility))


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["payload"])


@pytest.fixture
def token(token_for, publisher: Staff, account: Account) -> str:
    """A token of the publisher acting as @ville (read write follow)."""
    return token_for(publisher, account)


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


# --- health and refusals ------------------------------------------------------------------


def test_health_answers_ok() -> None:
    async def scenario() -> None:
        client = EventStream("/api/v1/streaming/health")
        status, _headers = await client.start()
        assert status == 200
        assert await client.body() == b"OK"

    run(scenario)


def test_a_bad_token_is_refused(account: Account) -> None:
    async def scenario() -> None:
        for socket in (
            Socket({"stream": "public", "access_token": "nope"}),
            Socket(headers=_bearer("nope")),
            Socket(subprotocols=["nope"]),
        ):
            answer = await socket.connect()
            assert answer == {"type": "websocket.close", "code": 1008}
        client = EventStream("/api/v1/streaming/public", headers=_bearer("nope"))
        status, headers = await client.start()
        assert status == 401
        assert headers[b"content-type"] == b"application/json"
        assert "error" in json.loads(await client.body())

    run(scenario)


def test_unknown_streams_and_missing_tags_are_refused(token: str) -> None:
    async def scenario() -> None:
        socket = await Socket(headers=_bearer(token)).open()
        await socket.send({"type": "subscribe", "stream": "nope"})
        assert (await socket.receive())["status"] == 400
        await socket.send({"type": "subscribe", "stream": "hashtag"})
        error = await socket.receive()
        assert error["status"] == 400 and error["error"]
        await socket.close()
        for path, query, status in (
            ("/api/v1/streaming/nope", {}, 404),
            ("/api/v1/streaming", {}, 404),  # clients read it as "stream from this host"
            ("/api/v1/streaming/hashtag", {}, 400),
            ("/api/v1/streaming/hashtag", {"tag": ""}, 400),
        ):
            client = EventStream(path, query)
            assert (await client.start())[0] == status, path
            assert "error" in json.loads(await client.body())

    run(scenario)


def test_user_streams_need_a_user_token_with_its_scopes(
    token_for, publisher: Staff, account: Account
) -> None:
    statuses_only = token_for(publisher, account, scope="read:statuses")

    async def scenario() -> None:
        anonymous = await Socket().open()
        await anonymous.send({"type": "subscribe", "stream": "user"})
        assert (await anonymous.receive())["status"] == 401
        await anonymous.close()

        socket = await Socket(headers=_bearer(statuses_only)).open()
        await socket.send({"type": "subscribe", "stream": "user:notification"})
        assert (await socket.receive())["status"] == 401
        await socket.send({"type": "subscribe", "stream": "user"})
        assert await socket.nothing()  # accepted: no error comes back
        await socket.close()

        for path, headers in (
            ("/api/v1/streaming/user", {}),
            ("/api/v1/streaming/user/notification", _bearer(statuses_only)),
        ):
            client = EventStream(path, headers=headers)
            assert (await client.start())[0] == 401

    run(scenario)


# --- public streams -----------------------------------------------------------------------


def test_public_stream_streams_new_posts_and_deletions(publisher: Staff, account: Account) -> None:
    async def scenario() -> None:
        socket = await Socket({"stream": "public"}).open()
        post = await db(_publish, publisher, account, "Bonjour #Blois")
        message = await socket.receive()
        assert message["stream"] == ["public"]
        assert message["event"] == "update"
        assert isinstance(message["payload"], str)
        status = _payload(message)
        assert status["id"] == str(post.pk)
        assert "Bonjour" in status["content"]
        assert status["account"]["acct"] == "ville"
        assert status["tags"] == [{"name": "blois", "url": f"http://{HOST}/tags/blois"}]
        # Rendered for nobody: no "favourited" and such.
        assert "favourited" not in status

        await db(delete_post, publisher, post)
        assert await socket.receive() == {
            "stream": ["public"],
            "event": "delete",
            "payload": str(post.pk),
        }
        assert await socket.nothing()
        await socket.close()

    run(scenario)


def test_followers_only_posts_stay_off_public_streams(
    publisher: Staff, account: Account, function_account: Account
) -> None:
    async def scenario() -> None:
        socket = await Socket({"stream": "public"}).open()
        await socket.send({"type": "subscribe", "stream": "public:local"})
        await socket.send({"type": "subscribe", "stream": "public:remote"})
        await db(_publish, publisher, account, "Pour les abonnés", Visibility.FOLLOWERS)
        await db(_publish, publisher, function_account, "Pas listé", Visibility.UNLISTED)
        public = await db(_publish, publisher, account, "Pour tous")
        # A local post: on "public" and "public:local", once each, and nothing else.
        first, second = await socket.receive(), await socket.receive()
        assert [first["stream"], second["stream"]] == [["public"], ["public:local"]]
        assert _payload(first)["id"] == _payload(second)["id"] == str(public.pk)
        assert await socket.nothing()
        await socket.close()

    run(scenario)


def test_hashtag_streams_only_carry_their_tag(publisher: Staff, account: Account) -> None:
    async def scenario() -> None:
        socket = await Socket({"stream": "hashtag", "tag": "Blois"}).open()
        await socket.send({"type": "subscribe", "stream": "hashtag:local", "tag": "loire"})
        await db(_publish, publisher, account, "Rien à voir #Tours")
        tagged = await db(_publish, publisher, account, "Vive #BLOIS")
        message = await socket.receive()
        assert message["stream"] == ["hashtag", "Blois"]  # as the client wrote it
        assert _payload(message)["id"] == str(tagged.pk)
        assert await socket.nothing()

        both = await db(_publish, publisher, account, "#Loire et #blois")
        messages = [await socket.receive(), await socket.receive()]
        assert sorted(tuple(m["stream"]) for m in messages) == [
            ("hashtag", "Blois"),
            ("hashtag:local", "loire"),
        ]
        assert {_payload(m)["id"] for m in messages} == {str(both.pk)}
        await socket.close()

    run(scenario)


def test_unsubscribing_stops_the_stream(publisher: Staff, account: Account) -> None:
    async def scenario() -> None:
        socket = await Socket({"stream": "public:local"}).open()
        await socket.send({"type": "unsubscribe", "stream": "public:local"})
        await asyncio.sleep(0.1)
        await db(_publish, publisher, account, "Personne ne l'entend")
        assert await socket.nothing()
        await socket.close()

    run(scenario)


def test_edits_are_streamed_and_the_subprotocol_token_works(
    token: str, publisher: Staff, account: Account
) -> None:
    async def scenario() -> None:
        socket = Socket({"stream": "public:local"}, subprotocols=[token])
        answer = await socket.connect()
        # Browsers pass the token as the subprotocol, and need it echoed.
        assert answer == {"type": "websocket.accept", "subprotocol": token}
        post = await db(_publish, publisher, account, "Premier jet")
        assert (await socket.receive())["event"] == "update"
        await db(edit_post, publisher, post, Content("Version corrigée"))
        message = await socket.receive()
        assert message["event"] == "status.update"
        status = _payload(message)
        assert status["id"] == str(post.pk)
        assert "corrigée" in status["content"] and status["edited_at"]
        await socket.close()

    run(scenario)


def test_blocked_accounts_stay_off_the_public_streams_of_who_blocks(
    token: str, publisher: Staff, account: Account, function_account: Account
) -> None:
    async def scenario() -> None:
        await db(Block.objects.create, account=account, target=function_account)
        mine = await Socket({"stream": "public"}, headers=_bearer(token)).open()
        anyone = await Socket({"stream": "public"}).open()
        post = await db(_publish, publisher, function_account, "Message du maire")
        assert _payload(await anyone.receive())["id"] == str(post.pk)
        assert await mine.nothing()
        await mine.close()
        await anyone.close()

    run(scenario)


def test_a_late_commit_with_an_older_id_is_still_streamed(account: Account) -> None:
    """A transaction that commits after a pass has read past its post's id."""

    async def scenario() -> None:
        socket = await Socket({"stream": "public"}).open()
        await asyncio.sleep(0.4)  # several passes
        created = timezone.now() - timedelta(seconds=0.3)
        post = await db(
            Post.objects.create,
            id=time_id(created),
            account=account,
            text="En retard",
            content_html="<p>En retard</p>",
            published_at=created,
        )
        assert _payload(await socket.receive())["id"] == str(post.pk)
        await socket.close()

    run(scenario)


def test_each_payload_is_rendered_once_per_audience(
    monkeypatch, publisher: Staff, account: Account
) -> None:
    calls: list[int] = []
    statuses = poller.Renderer.statuses

    def counting(self, posts):
        calls.append(len(posts))
        return statuses(self, posts)

    monkeypatch.setattr(poller.Renderer, "statuses", counting)

    async def scenario() -> None:
        sockets = [
            await Socket({"stream": stream}).open()
            for stream in ("public", "public", "public:local")
        ]
        await db(_publish, publisher, account, "Un seul rendu")
        for socket in sockets:
            assert (await socket.receive())["event"] == "update"
            await socket.close()

    run(scenario)
    assert calls == [1]


# --- the user's streams -------------------------------------------------------------------


def test_user_stream_carries_home_and_notifications(
    token: str, publisher: Staff, account: Account, function_account: Account
) -> None:
    async def scenario() -> None:
        socket = await Socket({"stream": "user"}, headers=_bearer(token)).open()

        # Not followed yet: the mayor's followers-only post is not for @ville.
        await db(_publish, publisher, function_account, "Avant", Visibility.FOLLOWERS)
        assert await socket.nothing()

        await db(record_follow, function_account, account, "", approved=True)
        message = await socket.receive()
        assert message["stream"] == ["user"] and message["event"] == "notification"
        notification = _payload(message)
        assert notification["type"] == "follow"
        assert notification["account"]["username"] == "maire"

        # @ville follows the mayor: the notification is the mayor's, not on this stream.
        await db(record_follow, account, function_account, "", approved=True)
        post = await db(_publish, publisher, function_account, "Après", Visibility.FOLLOWERS)
        message = await socket.receive()
        assert message["event"] == "update"
        status = _payload(message)
        assert status["id"] == str(post.pk)
        assert status["visibility"] == "private"
        assert status["favourited"] is False  # rendered for @ville

        own = await db(_publish, publisher, account, "Le mien", Visibility.UNLISTED)
        assert _payload(await socket.receive())["id"] == str(own.pk)
        await db(delete_post, publisher, post)
        assert await socket.receive() == {
            "stream": ["user"],
            "event": "delete",
            "payload": str(post.pk),
        }
        assert await socket.nothing()
        await socket.close()

    run(scenario)


def test_a_revoked_token_ends_the_connection(monkeypatch, token: str) -> None:
    monkeypatch.setattr(poller, "TOKEN_CHECK_SECONDS", 0.0)

    async def scenario() -> None:
        socket = await Socket({"stream": "user"}, headers=_bearer(token)).open()
        await db(lambda: AccessToken.objects.all().delete())
        message = await socket.communicator.receive_output(WAIT)
        assert message == {"type": "websocket.close", "code": 1008}

    run(scenario)


# --- server-sent events -------------------------------------------------------------------


def test_server_sent_events_frames_and_heartbeat(
    settings, publisher: Staff, account: Account
) -> None:
    settings.PARVIS_STREAMING_HEARTBEAT_SECONDS = 0.3

    async def scenario() -> None:
        client = EventStream("/api/v1/streaming/public/local")
        status, headers = await client.start()
        assert status == 200
        assert headers[b"content-type"].startswith(b"text/event-stream")
        assert headers[b"cache-control"] == b"private, no-store"
        assert await client.until(b"\n") == b":)\n"
        assert await client.until(b"\n") == b":thump\n"

        post = await db(_publish, publisher, account, "En direct")
        event, data = await client.event()
        assert event == "update"
        assert json.loads(data)["id"] == str(post.pk)
        await client.close()

    run(scenario)


def test_server_sent_notifications(token: str, account: Account, function_account: Account) -> None:
    async def scenario() -> None:
        client = EventStream("/api/v1/streaming/user/notification", {"access_token": token})
        assert (await client.start())[0] == 200
        await db(record_follow, function_account, account, "", approved=True)
        event, data = await client.event()
        assert event == "notification"
        assert json.loads(data)["type"] == "follow"
        await client.close()

    run(scenario)
