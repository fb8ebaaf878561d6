"""The streaming API of a real ``parvis serve --workers 2``, over real sockets.

WebSocket connections are opened until they are held by both worker processes (read from
/proc: which process owns each accepted socket), a post is published by another process
(the console, as the back-office would), and every connection must receive it: each
worker's poller finds it in the database on its own. A server-sent events stream must get
it too, pushed through granian as it happens.

The WebSocket client is a few lines of RFC 6455 written here (the project has no
WebSocket client library): the handshake, masked text frames out, frames in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop import harness

SETUP = """
import datetime
from django.utils import timezone
from oauth2_provider.models import AccessToken
from parvis.api.models import Application, TokenAccount
from parvis.identity.models import Staff
from parvis.identity.services import create_account, get_or_create_domain
from parvis.publishing.services import Content, publish_post
account = create_account(domain=get_or_create_domain('127.0.0.1'), handle='ville',
                         kind='institution', display_name='Ville de Loopback')
staff = Staff.objects.create_superuser('root', 'root@example.invalid', 's3cret-pass')
app = Application.objects.create(name='streaming', redirect_uris='https://app.example/cb',
    client_type='confidential', authorization_grant_type='authorization-code', scopes='read')
token = AccessToken(user=staff, application=app, scope='read',
    expires=timezone.now() + datetime.timedelta(days=1))
token.token = {raw!r}
token.save()
TokenAccount.objects.create(token=token, account=account)
"""
PUBLISH = "print(publish_post(staff, account, Content({text!r})).pk)"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's, for Sec-WebSocket-Accept
WAIT = 20.0


class Connection:
    """A TCP connection to the server, read through a buffer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.port = port
        self.buffer = b""

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def through(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        head, _sep, self.buffer = self.buffer.partition(marker)
        return head + marker

    def headers(self, request: str) -> str:
        """Send an HTTP request head; the answer's head."""
        self.sock.sendall(request.encode())
        return self.through(b"\r\n\r\n").decode("latin-1")

    def close(self) -> None:
        self.sock.close()


def handshake(connection: Connection, path: str, token: str, key: str) -> str:
    """Ask for a WebSocket upgrade; the answer's head."""
    return connection.headers(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{connection.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )


class WebSocket(Connection):
    def __init__(self, port: int, path: str, token: str) -> None:
        super().__init__(port)
        key = base64.b64encode(os.urandom(16)).decode()
        head = handshake(self, path, token, key)
        assert head.startswith("HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()  # noqa: S324
        assert f"sec-websocket-accept: {accept}".lower() in head.lower(), head

    def send(self, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)

    def receive(self) -> dict[str, Any]:
        """The next text message, as JSON (pings answered on the way)."""
        while True:
            first, second = self.exactly(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                size = int.from_bytes(self.exactly(2), "big")
            elif size == 127:
                size = int.from_bytes(self.exactly(8), "big")
            payload = self.exactly(size)
            assert first & 0x80, "fragmented frames are not expected for small events"
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x8:
                raise ConnectionError(f"closed by the server: {payload!r}")
            if opcode == 0x9:
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def local_port(self) -> int:
        return self.sock.getsockname()[1]


def owner(server_port: int, client_port: int) -> int | None:
    """The pid of the process that holds the server side of a loopback connection."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and (
            int(remote.split(":")[1], 16) == client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(pid)
        except OSError:
            continue
    return None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = harness.free_port()
    env = harness.environment(
        tmp_path,
        PARVIS_SECRET_KEY=secrets.token_urlsafe(32),
        PARVIS_ALLOWED_HOSTS="127.0.0.1",
        PARVIS_DEFAULT_DOMAIN="127.0.0.1",
        PARVIS_URL_SCHEME="http",
        PARVIS_URL_PORT=str(port),
    )
    harness.migrate(env)
    raw = secrets.token_urlsafe(32)
    console = harness.Console(env, tmp_path / "console.log")
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *harness.PARVIS,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        console.run(SETUP.format(raw=raw))
        harness.wait_until_up(f"http://127.0.0.1:{port}/health", process, "parvis serve", log)
        yield {"port": port, "token": raw, "console": console, "log": log, "pid": process.pid}
    finally:
        console.close()
        harness.stop(process)


def test_every_worker_streams_what_another_process_publishes(server: dict[str, Any]) -> None:
    port, token = server["port"], server["token"]

    refused = Connection(port)
    head = handshake(
        refused, "/api/v1/streaming?stream=public", "not-a-token", "a2V5a2V5a2V5a2V5a2V5aw=="
    )
    assert head.split(" ")[1].startswith("4"), head  # a bad token never gets a socket
    refused.close()

    # WebSocket connections until both workers hold some (the kernel picks the worker).
    sockets: list[WebSocket] = []
    owners: set[int] = set()
    while len(owners) < 2 and len(sockets) < 24:
        socket_ = WebSocket(port, "/api/v1/streaming?stream=public:local", token)
        sockets.append(socket_)
        pid = owner(port, socket_.local_port())
        assert pid is not None and pid != server["pid"], "a worker holds each connection"
        owners.add(pid)
    assert len(owners) == 2, f"{len(sockets)} connections all landed on one worker"
    # One more stream, subscribed by message rather than in the URL.
    sockets[0].send({"type": "subscribe", "stream": "hashtag", "tag": "Direct"})

    events = Connection(port)
    head = events.headers(
        f"GET /api/v1/streaming/public HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    assert head.startswith("HTTP/1.1 200") and "text/event-stream" in head, head
    time.sleep(1.0)  # let each worker's poller start

    post_id = server["console"].run(PUBLISH.format(text="En direct #direct")).strip()

    for n, socket_ in enumerate(sockets):
        expected = [["public:local"], ["hashtag", "Direct"]] if n == 0 else [["public:local"]]
        messages = [socket_.receive() for _stream in expected]
        assert sorted(m["stream"] for m in messages) == sorted(expected)
        for message in messages:
            assert message["event"] == "update"
            assert json.loads(message["payload"])["id"] == post_id

    # Chunked transfer: each chunk is "<size>\r\n<data>\r\n"; the event is one chunk.
    stream = b""
    while b"event: update\n" not in stream or not stream.endswith(b"\n\n"):
        size = int(events.through(b"\r\n").strip(), 16)
        stream += events.exactly(size + 2)[:-2]
    event = stream[stream.index(b"event: update\n") :].decode()
    data = event.split("\n")[1].removeprefix("data: ")
    assert json.loads(data)["id"] == post_id

    for connection in [*sockets, events]:
        connection.close()
    time.sleep(0.5)
    log = server["log"].read_text(errors="replace")
    assert "Traceback" not in log, harness.tail(server["log"], 80)
