"""The guarded HTTP client for asyncio: :class:`AsyncSession` sends many requests from one
event loop (deliveries fanned out to thousands of inboxes), :func:`afetch` one.

This is the other half of :mod:`parvis.core.http`, the one place where Parvis makes
outgoing requests: every check listed there holds here too (public destinations only, one
resolution per connection and no second lookup, redirects vetted hop by hop, capped
bodies, one deadline), built from the same address vetting, URL and response helpers,
imported from that module rather than repeated.

What differs is the I/O. A fan-out opens one connection per inbox host, thousands a
second, and there a general-purpose client (httpx over httpcore, h11 and anyio) spent
about four times the CPU of the request's RSA signature in its own machinery. So the
connections here are a small :class:`asyncio.Protocol` of this module: it writes each
HTTP/1.1 request itself and hands the answer to llhttp (``httptools``, the parser of
uvicorn), whose callbacks check the head, count and decode the body as it arrives, and
resolve one future per exchange. What that covers, and nothing more:

- request heads are written from checked parts: a header name must be an HTTP token and
  a value printable ASCII without CR, LF or NUL, and the body is framed by
  ``Content-Length`` alone, or the request is refused unsent;
- response bodies framed by ``Content-Length``, by chunks (trailers are dropped), or by
  the end of the connection; a 1xx interim answer (100, 102, 103) is skipped; a response
  head is capped at 100 KiB;
- a response that does not parse, or a connection closed before the message is complete,
  is a :class:`~parvis.core.http.FetchError`; so is a 101 (no upgrade is ever asked for);
- connections are reused per origin (``Connection: keep-alive`` semantics from llhttp),
  never after a HEAD, a redirect or an error; one that the server closed while idle is
  seen closed (the protocol's ``connection_lost`` marks it) and not reused.

Names are resolved by ``socket.getaddrinfo`` in a few threads of this module (as it is
at each call, so a patched one is honoured), or by the session's ``resolver``; the
connection then dials the vetted address as a numeric host, never looked up again.
Each request waits for a per-host slot, then a global one, and its deadline is one
``asyncio.timeout`` around the whole exchange, redirects included; connecting (TCP and
TLS) gets at most :data:`~parvis.core.http.CONNECT_TIMEOUT` of it. The responses are
:class:`~parvis.core.http.Response` objects, their headers ``httpx.Headers``, exactly as
the synchronous client returns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import httptools
import httpx

# Used through the module rather than name by name, so that both clients read the same
# limits and TLS context at each call, even after a test has swapped one of them.
from parvis.core import http

# getaddrinfo blocks: it runs in up to this many threads, so that a fan-out to thousands
# of new hosts resolves many names at once without stalling the event loop.
_DNS_THREADS = 32

# The status line and headers of one response, at most (httpcore allowed h11 100 KiB):
# llhttp itself sets no limit, and a server sending headers forever must not fill memory.
MAX_HEAD_BYTES = 100 * 1024

# Interim answers that llhttp completes without a body; the final answer follows them.
_INTERIM_STATUSES = frozenset({100, 102, 103})

# What RFC 9110 allows in a field name (a token), and in a value as Parvis sends it:
# visible ASCII, spaces and tabs. CR, LF and NUL would end or split the header line.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_IN_VALUE = re.compile(r"[^\t\x20-\x7e]")
# Header names already checked: the same few are sent again and again.
_CHECKED_NAMES: set[str] = set()

# The answer to one exchange: status, headers, and the body, None for a redirect to follow.
_Answer = tuple[int, httpx.Headers, bytes | None]

# A URL that httpx would keep exactly as written, but for a default port: lower-case host
# name or IPv4 literal, a port without leading zero, a path and query of RFC 3986
# characters and well-formed escapes, no segment starting with a dot, no user
# information, no fragment. Such a URL is split by this pattern (a fan-out parses one
# per inbox, and httpx's parser cost as much as a fifth of the request); any other goes
# through httpx.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PCHAR = r"(?:[A-Za-z0-9\-_~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_PLAIN_URL = re.compile(
    rf"(https?)://((?:{_LABEL}\.)*{_LABEL})(?::([1-9][0-9]{{0,4}}))?"
    rf"((?:/(?:{_PCHAR}(?:{_PCHAR}|\.)*)?)*)(\?(?:{_PCHAR}|[./?])*)?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Target(NamedTuple):
    """A URL as a request needs it: what to connect to and what to write."""

    scheme: str
    host: str  # ASCII (IDNA) form, lower case, without the brackets of an IPv6 literal
    port: int
    netloc: str  # the Host header: host, and the port unless it is the default one
    target: str  # the request target: percent-encoded path and query
    url: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def _target(url: str) -> _Target:
    """``url`` checked and split (:func:`parvis.core.http._parse_url` rules)."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is None:
        return _from_httpx(http._parse_url(url))
    scheme, host, port_text, path, query = plain.groups()
    default = _DEFAULT_PORTS[scheme]
    port = int(port_text) if port_text else default
    if port > 65535:
        return _from_httpx(http._parse_url(url))
    netloc = host if port == default else f"{host}:{port}"
    return _Target(scheme, host, port, netloc, (path or "/") + (query or ""), url)


def _from_httpx(url: httpx.URL) -> _Target:
    scheme = url.scheme
    return _Target(
        scheme,
        url.raw_host.decode("ascii").lower(),
        url.port or _DEFAULT_PORTS[scheme],
        url.netloc.decode("ascii"),
        url.raw_path.decode("ascii"),
        str(url),
    )


class _LookupThreads:
    """``socket.getaddrinfo`` run in daemon threads, each answer handed back to its loop.

    What ``loop.run_in_executor`` does, without its layers (a concurrent future with its
    condition variable, two futures chained, a semaphore per call: about 45 µs of CPU a
    lookup against 10 here). The function is read from the socket module at each lookup,
    so that a patched ``socket.getaddrinfo`` (tests, the fan-out benchmark) is called.

    Threads are added only when answers are slow: one thread keeps up with answers that
    come fast (a local cache), and each thread woken for a lookup costs a round of GIL
    hand-offs with the event loop (32 threads woken in turn cost the fan-out benchmark
    about 15 % of its deliveries per CPU second). A lookup
    that took more than :attr:`SLOW` seconds gives each lookup then waiting a thread of
    its own; a new lookup while no thread has moved for that long (all are stuck in slow
    answers) starts one more; ``size`` threads at most.
    """

    SLOW = 0.025

    def __init__(self, size: int) -> None:
        self._size = size
        self._reset()
        # A forked child has the queue but not the threads (and maybe a lock held by
        # one of them): it starts afresh.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], str, int]
        ] = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0  # threads waiting for a lookup
        self._moved = 0.0  # when a thread last took or finished a lookup

    def lookup(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> asyncio.Future[Sequence[tuple[Any, ...]]]:
        """A future of ``getaddrinfo(host, port, 0, SOCK_STREAM)``, run in a thread."""
        future: asyncio.Future[Sequence[tuple[Any, ...]]] = loop.create_future()
        self._queue.put((loop, future, host, port))
        # Read without the lock: a stale count only starts a thread a little later.
        if self._idle == 0 and (self._threads == 0 or time.monotonic() - self._moved > self.SLOW):
            self._start()
        return future

    def _start(self, count: int = 1) -> None:
        with self._lock:
            count = max(min(count, self._size - self._threads), 0)
            self._threads += count
        for _ in range(count):
            threading.Thread(target=self._serve, name="parvis-dns", daemon=True).start()

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            loop, future, host, port = self._queue.get()
            with self._lock:
                self._idle -= 1
            self._moved = started = time.monotonic()
            answers: Sequence[tuple[Any, ...]] | None = None
            error: BaseException | None = None
            try:
                answers = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            except BaseException as exc:  # handed to the caller, whatever it is
                error = exc
            self._moved = time.monotonic()
            if self._moved - started > self.SLOW and self._idle == 0:
                # Slow answers: each lookup waiting now gets a thread of its own.
                self._start(self._queue.qsize())
            # RuntimeError: the loop was closed meanwhile, and nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, answers, error)
            del loop, future, answers, error  # not kept alive while waiting for the next


def _settle(
    future: asyncio.Future[Any],
    answers: Sequence[tuple[Any, ...]] | None,
    error: BaseException | None,
) -> None:
    """Resolve ``future`` in its loop's thread, unless its request gave up waiting."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answers)


@functools.cache
def _lookup_threads() -> _LookupThreads:
    return _LookupThreads(_DNS_THREADS)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection to a vetted address, one exchange at a time.

    :meth:`send` writes a request and returns a future; the parser's callbacks, run
    from :meth:`data_received`, check the head, feed the body to a bounded decoder and
    resolve that future with the answer, or with the :class:`~parvis.core.http.FetchError`
    that ends the exchange. Everything runs in the event loop's thread.
    """

    __slots__ = (
        "_accept_types",
        "_decoder",
        "_error",
        "_head_bytes",
        "_headers",
        "_informational",
        "_limit",
        "_loop",
        "_method",
        "_parser",
        "_raw_headers",
        "_received",
        "_state",
        "_status",
        "_until_close",
        "_waiter",
        "_where",
        "closed",
        "expires",
        "reusable",
        "transport",
    )

    # The exchange's progress: before the head, in the body, or answered.
    _HEAD, _BODY, _DONE = 0, 1, 2

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        # Set by connection_lost: the server may close an idle keep-alive connection at
        # any time, and a closed connection must not be handed to the next request.
        self.closed = False
        # Whether the connection may carry another request once this exchange is over.
        self.reusable = False
        self.expires = 0.0  # loop time after which an idle connection is not reused
        # One parser for the connection's life: llhttp reads keep-alive messages in turn.
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[_Answer] | None = None
        self._where = ""
        self._method = "GET"
        self._accept_types: Sequence[str] | None = None
        self._limit = 0
        self._state = self._DONE
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._informational = False
        self._status = 0
        self._headers: httpx.Headers | None = None
        self._decoder: http._BoundedDecoder | None = None
        self._received = 0
        self._until_close = False
        self._error: http.FetchError | None = None

    # --- used by the session ---------------------------------------------------------

    def send(
        self,
        payload: bytes,
        *,
        where: str,
        method: str,
        accept_types: Sequence[str] | None,
        limit: int,
    ) -> asyncio.Future[_Answer]:
        """Write one request (head and body in ``payload``); the future gets its answer."""
        self._waiter = waiter = self._loop.create_future()
        self._where = where
        self._method = method
        self._accept_types = accept_types
        self._limit = limit
        self._state = self._HEAD
        self._raw_headers = []
        self._head_bytes = 0
        self._informational = False
        self._received = 0
        self._until_close = False
        self._error = None
        self.reusable = False
        if self.closed:
            waiter.set_exception(http.FetchError(where, "connection closed before sending"))
        else:
            assert self.transport is not None
            self.transport.write(payload)
        return waiter

    def finish(self) -> None:
        """End the exchange: the waiter is no longer listened to."""
        waiter = self._waiter
        self._waiter = None
        self._state = self._DONE
        # A failure that arrived as the deadline cancelled the caller is dropped
        # knowingly, not reported by asyncio as "exception never retrieved".
        if waiter is not None and waiter.done() and not waiter.cancelled():
            waiter.exception()

    def close(self) -> None:
        """Close politely (a finished exchange): buffered bytes are sent first."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping what is buffered (a failed or abandoned exchange)."""
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # --- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's do not subclass asyncio.Transport, hence the cast).
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._state == self._BODY and self._until_close:
                # A body without length nor chunks ends with the connection: complete.
                self._complete()
            else:
                reason = "connection closed before the response was complete"
                self._fail(http.FetchError(self._where, f"{reason} ({exc})" if exc else reason))
        # The parser (through its callbacks) and the transport point back here: without
        # these cycles every connection is freed at once, not by the garbage collector,
        # whose passes over a whole Django process would cost more than the request.
        self._parser = None
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self._state == self._DONE:
            # Nothing was asked: bytes on an idle connection, or after the answer, mean
            # the server does not speak HTTP/1.1 as expected. The connection is dropped.
            self.abort()
            return
        assert self._parser is not None  # only None once the connection is lost
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(http.FetchError(self._where, "protocol switch that was not asked for"))
            return
        except httptools.HttpParserError as exc:
            # A callback's own error (the limit, the content type…) comes first.
            self._fail(self._error or http.FetchError(self._where, f"malformed response ({exc})"))
            return
        if self._state == self._HEAD:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._fail(
                    http.FetchError(
                        self._where, f"response head exceeds the {MAX_HEAD_BYTES}-byte limit"
                    )
                )

    # --- llhttp callbacks (raising one stops the parser; data_received reports it) ----

    def on_message_begin(self) -> None:
        if self._state == self._DONE:
            self._error = http.FetchError(self._where, "data after the end of the response")
            raise self._error
        self._raw_headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        # Trailers of a chunked body arrive here too, after the head: not kept.
        if self._state == self._HEAD:
            self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if status < 200:
            if status not in _INTERIM_STATUSES:
                self._error = http.FetchError(self._where, f"unexpected {status} answer")
                raise self._error
            self._informational = True  # its on_message_complete follows at once
            return
        headers = httpx.Headers(self._raw_headers)
        self._status = status
        self._headers = headers
        self._state = self._BODY
        if status in http._REDIRECT_STATUSES and headers.get("location"):
            # The caller follows it (or refuses to): its body is never read, and the
            # connection, left mid-message, is closed.
            self._resolve((status, headers, None))
            return
        try:
            http._check_head(
                status, headers, self._method, self._where, self._accept_types, self._limit
            )
            self._decoder = http._BoundedDecoder(
                headers.get("content-encoding", ""), self._limit, self._where
            )
        except http.FetchError as exc:
            self._error = exc
            raise
        if self._method == "HEAD":
            # llhttp cannot be told that a HEAD answer has no body: the answer is
            # complete here, and the connection not reused.
            self._resolve((status, headers, b""))
            return
        if status not in (204, 304) and "content-length" not in headers:
            coding = headers.get("transfer-encoding", "").rsplit(",", 1)[-1].strip().lower()
            self._until_close = coding != "chunked"

    def on_body(self, body: bytes) -> None:
        if self._state != self._BODY:
            return
        self._received += len(body)
        try:
            if self._received > self._limit:
                raise http.ResponseTooLarge(
                    self._where, f"body exceeds the {self._limit}-byte limit"
                )
            assert self._decoder is not None
            self._decoder.feed(body)
        except http.FetchError as exc:
            self._error = exc
            raise

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._state != self._BODY:
            return
        # Read now: llhttp forgets the message's keep-alive flags once this returns.
        assert self._parser is not None
        keep_alive = self._parser.should_keep_alive()
        if self._complete():
            self.reusable = keep_alive

    # --- helpers ----------------------------------------------------------------------

    def _complete(self) -> bool:
        """Resolve the waiter with the decoded body; False if decoding failed."""
        assert self._decoder is not None and self._headers is not None
        try:
            body = self._decoder.finish()
        except http.FetchError as exc:
            self._fail(exc)
            return False
        self._resolve((self._status, self._headers, body))
        return True

    def _resolve(self, answer: _Answer) -> None:
        self._state = self._DONE
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, error: http.FetchError) -> None:
        self._state = self._DONE
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.abort()


class _Slots:
    """A counting semaphore of the event loop's thread, free of charge when a slot is free.

    Through ``async with``, an :class:`asyncio.Semaphore` costs six coroutine objects
    per use; here a free slot is taken by :meth:`take` alone, and only a request that
    must wait awaits :meth:`wait`. Waiters are served first come, first served; a slot
    handed to a waiter cancelled before it could run is passed on.
    """

    __slots__ = ("_waiters", "free", "users")

    def __init__(self, count: int) -> None:
        self.free = count
        self.users = 0  # callers holding or waiting for a slot (per-host slots only)
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take a slot if one is free and nobody waits for it."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for a slot (call when :meth:`take` failed)."""
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._hand_over()  # a slot may be free behind waiters that gave up
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over as the caller was cancelled: passed on
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter still waiting, if any."""
        self.free += 1
        self._hand_over()

    def _hand_over(self) -> None:
        waiters = self._waiters
        while self.free > 0 and waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled waiter is dropped
                self.free -= 1
                waiter.set_result(None)


@dataclass(slots=True)
class _Origin:
    """The idle keep-alive connections to one origin, and the requests using it now."""

    key: tuple[str, str, int]
    idle: list[_Connection] = field(default_factory=list)
    users: int = 0


@dataclass(slots=True)
class _Request:
    """What the caller asked for (the method, body and headers change on redirects)."""

    url: str
    method: str
    headers: dict[str, tuple[str, str]]  # lower-cased name -> (name as given, value)
    body: bytes | None
    accept_types: Sequence[str] | None
    limit: int
    connect_limit: float
    where: str = ""  # the URL of the hop in progress, for the error that names it


class AsyncSession:
    """Guarded requests from one asyncio event loop, reusing connections per origin.

    Every request keeps the guarantees of :func:`~parvis.core.http.fetch`: each connection
    goes to an address vetted when it was opened (no second lookup), redirects are vetted
    hop by hop, bodies are capped, and a deadline covers the whole exchange. Requests wait
    for a slot first: at most ``per_host`` in flight to one host name and
    ``max_concurrency`` in all; the deadline starts once the slot is held, so waiting
    behind a slow host does not eat a request's time.

    Idle connections are kept per origin for ``keepalive_expiry`` seconds, for the
    ``max_idle_origins`` origins used last: open sockets stay bounded however many hosts
    are reached, and a lookup costs the same with ten hosts or ten thousand.

    The allow-list (``PARVIS_HTTP_ALLOW_PRIVATE``) and the TLS context are read when the
    session is created. Use it as ``async with AsyncSession() as session: await
    session.fetch(url)``, from one event loop (asyncio's or uvloop's).
    """

    def __init__(
        self,
        *,
        max_concurrency: int = 100,
        per_host: int = 2,
        resolver: http.Resolver | None = None,
        domain: str | None = None,
        keepalive_expiry: float = 5.0,
        max_idle_origins: int = 256,
    ) -> None:
        if max_concurrency < 1 or per_host < 1:
            raise ValueError("max_concurrency and per_host must be at least 1")
        self._resolver = resolver
        self._allow = http._AllowList.from_settings()
        self._global = _Slots(max_concurrency)
        self._per_host = per_host
        self._domain = domain
        self._keepalive_expiry = keepalive_expiry
        self._max_idle_origins = max_idle_origins
        self._hosts: dict[str, _Slots] = {}
        self._busy: dict[tuple[str, str, int], _Origin] = {}
        self._idle: OrderedDict[tuple[str, str, int], _Origin] = OrderedDict()
        self._ssl_context = http._ssl_context()
        self._opened = 0
        # Known at the first request: asyncio.get_running_loop() makes a system call
        # (getpid) in Python 3.11, so it is asked once.
        self._loop: asyncio.AbstractEventLoop | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the session (one: its futures belong to it)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    @property
    def connections_opened(self) -> int:
        """Connections opened so far, TLS included (a reused connection counts once)."""
        return self._opened

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection of the session (busy ones close when released)."""
        origins = [*self._busy.values(), *self._idle.values()]
        self._busy.clear()
        self._idle.clear()
        for origin in origins:
            for connection in origin.idle:
                connection.close()
            origin.idle.clear()

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        body: bytes | None = None,
        accept_types: Sequence[str] | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        max_redirects: int = http.MAX_REDIRECTS,
        domain: str | None = None,
    ) -> http.Response:
        """Send one request and return the complete response, as ``http.fetch`` does.

        ``headers`` may be a function returning them: it is called once the request
        holds its slot, right before sending, so that time-bound headers (a signature
        and its date) are fresh however long the request waited. Whatever it raises
        propagates unchanged. A header name that is not an HTTP token, or a value with
        anything but visible ASCII, spaces and tabs (CR, LF, NUL…), is refused with a
        :class:`~parvis.core.http.FetchError` and nothing is sent. The other arguments
        mean what they mean for :func:`~parvis.core.http.fetch`.
        """
        limit = http.DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        budget = http.DEFAULT_TIMEOUT if timeout is None else timeout
        first = _target(url)
        if not _TOKEN.fullmatch(method):
            raise http.FetchError(url, f"invalid method {method!r}")
        key = first.host.rstrip(".")
        host_slots = self._hosts.get(key)
        if host_slots is None:
            host_slots = self._hosts[key] = _Slots(self._per_host)
        host_slots.users += 1
        try:
            # The host's own slot first: a request queued behind a slow host must not
            # hold one of the global slots while it waits.
            if not host_slots.take():
                await host_slots.wait(self._running_loop())
            try:
                if not self._global.take():
                    await self._global.wait(self._running_loop())
            except BaseException:
                host_slots.release()
                raise
            try:
                supplied = headers() if callable(headers) else headers
                request = _Request(
                    url=url,
                    method=method,
                    headers=_request_headers(
                        http._default_headers(accept_types, domain or self._domain),
                        supplied,
                        body,
                        url,
                    ),
                    body=body,
                    accept_types=accept_types,
                    limit=limit,
                    connect_limit=min(http.CONNECT_TIMEOUT, budget),
                    where=url,
                )
                try:
                    async with asyncio.timeout(budget):
                        return await self._follow(request, first, max_redirects)
                except TimeoutError:
                    raise http.Timeout(
                        request.where, f"no complete answer within the {budget:g} s deadline"
                    ) from None
                except http._Refused as exc:
                    raise http.BlockedDestination(request.where, str(exc)) from None
                except http._Unresolvable as exc:
                    raise http.FetchError(request.where, str(exc)) from None
            finally:
                self._global.release()
                host_slots.release()
        finally:
            host_slots.users -= 1
            if host_slots.users == 0:
                del self._hosts[key]

    async def _follow(
        self, request: _Request, current: _Target, max_redirects: int
    ) -> http.Response:
        """Send ``request`` and follow its redirects, each hop vetted like the first."""
        method, body, request_headers = request.method, request.body, request.headers
        for hop in range(max_redirects + 1):
            # Errors name the URL as the caller wrote it, then each redirect target.
            where = request.where = request.url if hop == 0 else current.url
            payload = _request_head(method, current, request_headers, body)
            if body:
                payload += body
            status, headers, answer_body = await self._exchange(current, payload, method, request)
            if answer_body is not None:
                return http.Response(status=status, headers=headers, body=answer_body, url=where)
            if hop == max_redirects:
                break
            following = _from_httpx(
                http._redirect_target(httpx.URL(current.url), headers["location"], where)
            )
            method, body = http._redirect_method(method, body, status)
            if body is None:
                for name in http._BODY_HEADERS:
                    request_headers.pop(name, None)
            if following.origin != current.origin:
                for name in http._ORIGIN_BOUND_HEADERS:
                    request_headers.pop(name, None)
            current = following
        raise http.TooManyRedirects(
            request.url, f"more than {max_redirects} redirects (last hop {current})"
        )

    async def _exchange(
        self, url: _Target, payload: bytes, method: str, request: _Request
    ) -> _Answer:
        """One request and its answer, on an idle connection to the origin or a new one."""
        key = url.origin
        origin = self._busy.get(key) or self._idle.pop(key, None) or _Origin(key)
        self._busy[key] = origin
        origin.users += 1
        connection: _Connection | None = None
        try:
            connection = self._idle_connection(origin)
            if connection is None:
                connection = await self._open(url, request)
            return await connection.send(
                payload,
                where=request.where,
                method=method,
                accept_types=request.accept_types,
                limit=request.limit,
            )
        finally:
            self._release(origin, connection)

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        """An idle connection of ``origin`` still open and not expired, if any."""
        now = self._running_loop().time()
        while origin.idle:
            connection = origin.idle.pop()
            if not connection.closed and now < connection.expires:
                return connection
            connection.close()
        return None

    def _release(self, origin: _Origin, connection: _Connection | None) -> None:
        """Keep ``connection`` idle if it can carry another request; close it otherwise."""
        if connection is not None:
            connection.finish()
            if connection.reusable and not connection.closed:
                connection.expires = self._running_loop().time() + self._keepalive_expiry
                origin.idle.append(connection)
            else:
                connection.abort()
        origin.users -= 1
        if origin.users:
            return
        if self._busy.pop(origin.key, None) is not origin:  # the session was closed meanwhile
            for idle in origin.idle:
                idle.close()
            return
        if origin.idle:
            self._idle[origin.key] = origin
        while len(self._idle) > self._max_idle_origins:
            _key, oldest = self._idle.popitem(last=False)
            for idle in oldest.idle:
                idle.close()

    # --- Connecting to vetted addresses -------------------------------------------------

    async def _open(self, url: _Target, request: _Request) -> _Connection:
        """Connect to the first reachable vetted address of the URL's host."""
        # The ASCII (IDNA) form: what is resolved, and what TLS checks the certificate for.
        host, port = url.host, url.port
        loop = self._running_loop()
        literal = http._literal(host)
        if literal is not None:
            addresses = http._vetted(host, [literal], self._allow, literal=True)
        else:
            try:
                if self._resolver is None:
                    answers = await _lookup_threads().lookup(loop, host, port)
                else:
                    answers = self._resolver(host, port, 0, socket.SOCK_STREAM)
            except (OSError, UnicodeError, ValueError) as exc:
                raise http._Unresolvable(f"cannot resolve {host}: {exc}") from None
            addresses = http._vetted(
                host, http._answer_addresses(host, answers), self._allow, literal=False
            )
        tls = self._ssl_context if url.scheme == "https" else None
        failure = ""
        for address in addresses:
            try:
                async with asyncio.timeout(request.connect_limit):
                    # Only the vetted address goes to the socket layer, as a numeric
                    # host that is never looked up (AI_NUMERICHOST): the name cannot be
                    # re-resolved elsewhere (DNS rebinding). TLS keeps the name.
                    _transport, connection = await loop.create_connection(
                        functools.partial(_Connection, loop),
                        str(address),
                        port,
                        flags=socket.AI_NUMERICHOST,
                        ssl=tls,
                        server_hostname=host if tls is not None else None,
                    )
            except TimeoutError:
                raise http.Timeout(
                    request.where, f"ConnectTimeout: no connection to {address} in time"
                ) from None
            except OSError as exc:  # refused, unreachable, TLS failure (ssl.SSLError)
                failure = f"ConnectError: {address}: {exc}"
                continue
            self._opened += 1
            return connection
        raise http.FetchError(request.where, failure)


def _request_headers(
    defaults: Mapping[str, str],
    supplied: Mapping[str, str] | None,
    body: bytes | None,
    url: str,
) -> dict[str, tuple[str, str]]:
    """The request's headers, by lower-cased name: the caller's replace the defaults.

    Each name and value is checked here, once, before anything is sent: a CR or LF
    would let a value start a header (or a request) of its own, a NUL truncate it. The
    body is framed by ``Content-Length`` alone: a caller's ``Transfer-Encoding``, or a
    ``Content-Length`` that is not the body's, would make the server read the next
    request from the wrong place.
    """
    merged: dict[str, tuple[str, str]] = {}
    for source in (defaults, supplied or {}):
        for name, value in source.items():
            if name not in _CHECKED_NAMES:
                if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                    raise http.FetchError(url, f"invalid request header name {name!r}: not sent")
                if len(_CHECKED_NAMES) < 1000:
                    _CHECKED_NAMES.add(name)
            if not isinstance(value, str):
                raise http.FetchError(url, f"request header {name} is not a string: not sent")
            lowered = name.lower()
            merged.pop(lowered, None)  # a replaced default goes, as with httpx.Headers
            merged[lowered] = (name, value)
    # One scan over all the values; the offending header is looked for only on failure.
    if _NOT_IN_VALUE.search("".join(value for _name, value in merged.values())):
        for name, value in merged.values():
            if _NOT_IN_VALUE.search(value):
                raise http.FetchError(
                    url,
                    f"request header {name} has a character that is not visible ASCII, "
                    f"space or tab (CR, LF, NUL…) in {value!r}: not sent",
                )
    if "transfer-encoding" in merged:
        raise http.FetchError(url, "a Transfer-Encoding request header is not supported: not sent")
    length = merged.get("content-length")
    if length is not None and length[1].strip() != str(len(body or b"")):
        raise http.FetchError(
            url, f"Content-Length {length[1]!r} is not the body's length: not sent"
        )
    return merged


def _request_head(
    method: str, url: _Target, headers: Mapping[str, tuple[str, str]], body: bytes | None
) -> bytes:
    """The request line and headers: ``Host`` first, ``Content-Length`` for a body."""
    lines = [f"{method} {url.target} HTTP/1.1"]
    if "host" not in headers:
        lines.append(f"Host: {url.netloc}")
    lines.extend(f"{name}: {value}" for name, value in headers.values())
    if body is not None and "content-length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("ascii")


async def afetch(
    url: str, *, resolver: http.Resolver | None = None, **options: Any
) -> http.Response:
    """One request through a throw-away :class:`AsyncSession`.

    The options are those of :func:`~parvis.core.http.fetch`.
    """
    async with AsyncSession(resolver=resolver) as session:
        return await session.fetch(url, **options)
