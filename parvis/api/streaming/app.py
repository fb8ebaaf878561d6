"""The streaming endpoints as a plain ASGI application, beside Django (see parvis/asgi.py).

``/api/v1/streaming`` over WebSocket, multiplexed (``subscribe``/``unsubscribe`` messages);
``/api/v1/streaming/<stream>`` as server-sent events; ``/api/v1/streaming/health``.
Connections wait on their event loop and cost no thread: only the token check crosses
into Django's synchronous world, once per connection.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.api.auth import ANONYMOUS, Caller, caller_for
from parvis.api.errors import ApiError
from parvis.api.streaming.hub import Listener, Transport, hub
from parvis.api.streaming.streams import HTTP_PATHS, StreamError, subscription

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/api/v1/streaming"
HEALTH = f"{PREFIX}/health"
# Mastodon's streaming server answers any origin: tokens, not cookies, authenticate.
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-headers", b"Authorization, Accept, Cache-Control"),
    (b"access-control-allow-methods", b"GET, OPTIONS"),
]
# A WebSocket close code for "policy violation": a bad token, a host not served here.
POLICY = 1008


def handles(path: str) -> bool:
    """Whether ``path`` belongs to the streaming API rather than to Django."""
    return path == PREFIX or path.startswith(PREFIX + "/")


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "http":
        await _http(scope, receive, send)


# --- what both transports share -----------------------------------------------------------


def request_for(scope: Scope) -> HttpRequest:
    """A Django request for the connection's scope: host, scheme (``X-Forwarded-Proto``
    too), headers. Entities take their absolute URLs from it."""
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", ""), scope.get("scheme"))
    http_scope = {**scope, "type": "http", "method": "GET", "scheme": scheme or "http"}
    return ASGIRequest(http_scope, io.BytesIO())


def _params(scope: Scope) -> dict[str, str]:
    """The query parameters (the first value of each, as Mastodon reads them)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        params.setdefault(name, value)
    return params


def _bearer(request: HttpRequest) -> str | None:
    kind, _sep, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if kind.lower() == "bearer" and value.strip() else None


def _authenticate(raw: str) -> Caller | None:
    try:
        return caller_for(raw)
    except ApiError:
        return None


async def _caller(raw: str | None) -> Caller | None:
    """The caller of ``raw`` (anonymous without a token); None when the token is bad."""
    if raw is None:
        return ANONYMOUS
    # On the thread that serves Django's views: a single short query, on the process's
    # open connection.
    return await sync_to_async(_authenticate, thread_sensitive=True)(raw)


def _json(status: int, document: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(document, ensure_ascii=False).encode()


# --- WebSocket ----------------------------------------------------------------------------


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    request = request_for(scope)
    try:
        request.get_host()
    except DisallowedHost:
        await _refuse(scope, send, 400, _("Ce nom d'hôte n'est pas servi ici"))
        return
    if not handles(scope["path"]):
        await _refuse(scope, send, 404, _("Introuvable"))
        return
    params = _params(scope)
    # As Mastodon: the header, else ``access_token``, else the subprotocol (browsers
    # cannot set headers on a WebSocket).
    protocols = list(scope.get("subprotocols") or [])
    raw = _bearer(request) or params.get("access_token") or (protocols[0] if protocols else None)
    caller = await _caller(raw)
    if caller is None:
        await _refuse(scope, send, 401, _("Le jeton d'accès est invalide"))
        return
    accept: dict[str, Any] = {"type": "websocket.accept"}
    if protocols:
        # A browser drops a connection whose server picks none of its subprotocols.
        accept["subprotocol"] = protocols[0]
    await send(accept)

    listener = Listener(caller, request, Transport.WEBSOCKET, timezone.now())
    hub.register(listener)
    try:
        if params.get("stream"):
            _change(listener, "subscribe", params["stream"], params)
        await _race(_read(listener, receive), _write(listener, send))
    finally:
        hub.unregister(listener)


async def _race(*work: Awaitable[None]) -> None:
    """Run ``work`` until the first one ends (the client left, or the stream was closed),
    then stop the others. A send to a client that has just left fails: that ends the
    connection like its leaving does."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("streaming connection ended: %r", task.exception())


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    """Turn a WebSocket handshake down: with an HTTP answer where the server can send one
    (Mastodon answers 401 to a bad token), else by closing before accepting (403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        status, body = _json(status, {"error": message})
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": POLICY})


async def _read(listener: Listener, receive: Receive) -> None:
    """The client's messages, until it leaves."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message["type"] != "websocket.receive":
            continue
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except ValueError:
            continue  # Mastodon ignores what is not JSON
        if not isinstance(data, dict) or data.get("type") not in ("subscribe", "unsubscribe"):
            continue
        stream = data.get("stream")
        if isinstance(stream, list):
            stream = stream[0] if stream else None
        params = {k: str(v) for k, v in data.items() if isinstance(v, str | int | bool)}
        _change(listener, data["type"], str(stream or ""), params)


def _change(listener: Listener, action: str, stream: str, params: dict[str, str]) -> None:
    try:
        # Leaving a stream needs no scope: only its name and tag are checked.
        wanted = subscription(stream, params, listener.caller, check=action == "subscribe")
    except StreamError as error:
        listener.error(error.status, error.message)
        return
    if action == "subscribe":
        listener.subscribe(wanted)
    else:
        listener.unsubscribe(wanted)


async def _write(listener: Listener, send: Send) -> None:
    """The queued frames, until the listener is closed (revoked token, slow client)."""
    while True:
        frame = await listener.outbox.get()
        if frame is None:
            await send({"type": "websocket.close", "code": POLICY})
            return
        await send({"type": "websocket.send", "text": frame})


# --- server-sent events -------------------------------------------------------------------


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"].rstrip("/") or "/"
    method = scope.get("method", "GET")
    if path == HEALTH:
        await _answer(send, 200, b"OK", b"text/plain; charset=utf-8")
        return
    if method == "OPTIONS":
        await _answer(send, 204, b"", None)
        return
    name = HTTP_PATHS.get(path)
    if name is None or method not in ("GET", "HEAD"):
        # Also ``GET /api/v1/streaming``: clients read 404 as "stream from this host".
        await _error(send, 404, _("Introuvable"))
        return
    request = request_for(scope)
    try:
        request.get_host()
    except DisallowedHost:
        await _error(send, 400, _("Ce nom d'hôte n'est pas servi ici"))
        return
    params = _params(scope)
    caller = await _caller(_bearer(request) or params.get("access_token"))
    if caller is None:
        await _error(send, 401, _("Le jeton d'accès est invalide"))
        return
    try:
        wanted = subscription(name, params, caller)
    except StreamError as error:
        await _error(send, error.status, error.message)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"private, no-store"),
                (b"x-accel-buffering", b"no"),  # nginx must pass each event on at once
                *CORS,
            ],
        }
    )
    if method == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    listener = Listener(caller, request, Transport.EVENTS, timezone.now())
    listener.subscribe(wanted)
    hub.register(listener)
    try:
        # A first comment sends the headers on at once, as Mastodon's ":)".
        await send({"type": "http.response.body", "body": b":)\n", "more_body": True})
        await _race(_disconnected(receive), _stream(listener, send))
    finally:
        hub.unregister(listener)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        continue


async def _stream(listener: Listener, send: Send) -> None:
    """Events as they come, with a ``:thump`` comment when none came for a while."""
    heartbeat = float(settings.PARVIS_STREAMING_HEARTBEAT_SECONDS)
    while True:
        try:
            frame = await asyncio.wait_for(listener.outbox.get(), heartbeat)
        except TimeoutError:
            frame = ":thump\n"
        if frame is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})


async def _answer(send: Send, status: int, body: bytes, content_type: bytes | None) -> None:
    headers = [*CORS]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, message: str) -> None:
    status, body = _json(status, {"error": message})
    headers = [*CORS, (b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
