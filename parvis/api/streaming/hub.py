"""The streaming connections of this process, and the one poller thread that feeds them."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.http import HttpRequest

from parvis.api.auth import Caller
from parvis.api.streaming.streams import Subscription

# Frames waiting for a client that does not read: past this, the connection is closed
# rather than let one slow client hold the process's memory.
OUTBOX_LIMIT = 1000


class Transport(StrEnum):
    WEBSOCKET = "websocket"
    EVENTS = "events"  # server-sent events over plain HTTP


class Listener:
    """One streaming connection: who is on it, where it came from, what it listens to,
    and the frames waiting to be sent to it.

    The poller thread reads it and hands it frames; everything else happens on the event
    loop of its connection: frames cross over with ``call_soon_threadsafe``.
    """

    def __init__(
        self, caller: Caller, request: HttpRequest, transport: Transport, since: datetime
    ) -> None:
        self.caller = caller
        # The connection's request, for absolute URLs in the entities rendered for it.
        self.request = request
        self.origin = (request.scheme, request.get_host())
        self.transport = transport
        # Events older than the connection are not streamed to it (ids and times carry
        # milliseconds: ``since`` is the connection time to the millisecond).
        self.since = since.replace(microsecond=since.microsecond // 1000 * 1000)
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        # Replaced, never changed in place: the poller reads it from its thread.
        self.subscriptions: frozenset[Subscription] = frozenset()
        self._closing = False

    @property
    def account_id(self) -> int | None:
        return self.caller.account.pk if self.caller.account is not None else None

    def subscribe(self, subscription: Subscription) -> None:
        if subscription not in self.subscriptions:
            self.subscriptions = self.subscriptions | {subscription}

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions = self.subscriptions - {subscription}

    def frame(self, subscription: Subscription, event: str, payload: str) -> str:
        """An event as this connection's transport writes it."""
        if self.transport is Transport.WEBSOCKET:
            return json.dumps(
                {"stream": list(subscription.label), "event": event, "payload": payload},
                ensure_ascii=False,
            )
        # The payload is compact JSON or an id: never a line break inside ``data:``.
        return f"event: {event}\ndata: {payload}\n\n"

    def error(self, status: int, message: str) -> None:
        """Tell a WebSocket client that a subscription failed (on the connection's loop)."""
        self._enqueue([json.dumps({"error": message, "status": status}, ensure_ascii=False)])

    def deliver(self, frames: list[str]) -> None:
        """Queue ``frames`` for the client (from any thread)."""
        self._call(self._enqueue, frames)

    def close(self) -> None:
        """End the connection once the frames queued before are sent (from any thread)."""
        self._call(self._enqueue, [None])

    def _call(self, callback: Any, items: list[str | None]) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, items)
        except RuntimeError:
            # The loop is closed: the connection, and its process's server, are gone.
            return

    def _enqueue(self, items: list[str | None]) -> None:
        for item in items:
            if self._closing:
                return
            if item is None or self.outbox.qsize() >= OUTBOX_LIMIT:
                self._closing = True
                self.outbox.put_nowait(None)
                return
            self.outbox.put_nowait(item)


class Hub:
    """The listeners of this process; starts the poller with the first one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()
        self._poller: Any = None

    def register(self, listener: Listener) -> None:
        from parvis.api.streaming.poller import Poller

        with self._lock:
            self._listeners.add(listener)
            if self._poller is None or not self._poller.is_alive():
                self._poller = Poller(self.listeners)
                self._poller.start()
            self._poller.wake()

    def unregister(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def listeners(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the poller and wait for it (tests; a process that stops just exits)."""
        with self._lock:
            poller, self._poller = self._poller, None
            self._listeners.clear()
        if poller is not None:
            poller.stop()
            poller.join(timeout)


hub = Hub()
