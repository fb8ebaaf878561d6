"""The guarded HTTP client for asyncio: :class:`AsyncSession` sends many requests from one
event loop (deliveries fanned out to thousands of inboxes), :func:`afetch` one.

This is the other half of :mod:`parvis.core.http`, the one place where Parvis makes
outgoing requests: every check listed there holds here too (public destinations only, one
resolution per connection and no second lookup, redirects vetted hop by hop, capped
bodies, one deadline), built from the same address vetting, URL and response helpers,
imported from that module rather than repeated.

What differs is the I/O: connections are reused per origin, under a global and a
per-host limit of requests in flight; each request's deadline is an ``asyncio.timeout``
around the whole exchange.
"""

from __future__ import annotations

import asyncio
import functools
import select
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

# Used through the module rather than name by name, so that both clients read the same
# limits and TLS context at each call, even after a test has swapped one of them.
from parvis.core import http

# getaddrinfo blocks: it runs in these threads so that a fan-out to thousands of new
# hosts resolves many names at once without stalling the event loop.
_DNS_THREADS = 32


@functools.cache
def _dns_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_DNS_THREADS, thread_name_prefix="parvis-dns")


# httpcore's exceptions have no common base class; these are every one it raises.
_HTTPCORE_ERRORS = (
    httpcore.ConnectionNotAvailable,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.TimeoutException,
    httpcore.UnsupportedProtocol,
)


class _AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection as asyncio's own streams, without anyio's layers.

    httpcore's anyio backend wraps every read and write in cancel scopes and every
    connect in a task group: at thousands of new hosts a second that bookkeeping cost
    more CPU than the request itself. A ``timeout`` of None means "no limit of its own":
    the session's ``asyncio.timeout`` around the request is the deadline.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("read timed out") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("write timed out") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            self._writer.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            self._writer.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            # An idle keep-alive connection that is readable was closed by the server.
            sock = self._writer.get_extra_info("socket")
            if sock is None or sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        return None


class _GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """The asyncio twin of :class:`~parvis.core.http._GuardedBackend`.

    It resolves, vets, then dials the vetted address.
    """

    def __init__(self, resolver: http.Resolver | None, allow: http._AllowList) -> None:
        self._resolver = resolver
        self._allow = allow
        self.connections_opened = 0

    async def vetted_addresses(self, host: str, port: int) -> list[http.IPAddress]:
        """The addresses of ``host``, all of them public or allow-listed."""
        literal = http._literal(host)
        if literal is not None:
            return http._vetted(host, [literal], self._allow, literal=True)
        return http._vetted(host, await self._resolve(host, port), self._allow, literal=False)

    async def _resolve(self, host: str, port: int) -> list[http.IPAddress]:
        try:
            if self._resolver is None:
                # Looked up at each call, like the sync client, so a patched
                # socket.getaddrinfo is honoured too.
                lookup = functools.partial(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
                loop = asyncio.get_running_loop()
                answers = await loop.run_in_executor(_dns_executor(), lookup)
            else:
                answers = self._resolver(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:
            raise http._Unresolvable(f"cannot resolve {host}: {exc}") from None
        return http._answer_addresses(host, answers)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable vetted address of ``host``."""
        addresses = await self.vetted_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            # Only the vetted address goes to the socket layer: an IP literal is
            # never looked up again, so the name cannot be re-resolved elsewhere.
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(
                        str(address),
                        port,
                        local_addr=(local_address, 0) if local_address else None,
                    )
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"no connection to {address} in time") from None
            except OSError as exc:
                failure = httpcore.ConnectError(f"{address}: {exc}")
                continue
            self.connections_opened += 1
            return _AsyncioStream(reader, writer)
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        """Never: a URL cannot name a Unix socket."""
        raise http._Refused("Unix sockets are not fetchable")

    async def sleep(self, seconds: float) -> None:
        """What httpcore calls between retries (Parvis asks for none)."""
        await asyncio.sleep(seconds)


@dataclass
class _HostSlots:
    """Requests in flight to one host, and how many callers use or wait for them."""

    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass
class _Origin:
    """The idle keep-alive connections to one origin, and the requests using it now."""

    key: tuple[str, str, int]
    idle: list[httpcore.AsyncHTTPConnection] = field(default_factory=list)
    users: int = 0


@dataclass
class _Exchange:
    """What the caller asked for (the method and body may change on redirects)."""

    url: str
    method: str
    headers: httpx.Headers
    body: bytes | None
    accept_types: Sequence[str] | None
    limit: int


@dataclass
class _HopState:
    """Where a request is, for the error that names the failing hop."""

    where: str


class AsyncSession:
    """Guarded requests from one asyncio event loop, reusing connections per origin.

    Every request keeps the guarantees of :func:`~parvis.core.http.fetch`: each connection
    goes to an address vetted when it was opened (no second lookup), redirects are vetted
    hop by hop, bodies are capped, and a deadline covers the whole exchange. Requests wait
    for a slot first: at most ``per_host`` in flight to one host name and
    ``max_concurrency`` in all; the deadline starts once the slot is held, so waiting
    behind a slow host does not eat a request's time.

    Connections are httpcore's, kept per origin by the session itself: httpcore's
    pool scans all of its connections on every request, fine for a handful and ruinous
    for thousands of hosts. Idle connections are kept for ``keepalive_expiry`` seconds,
    for the ``max_idle_origins`` origins used last; open sockets stay bounded however
    many hosts are reached.

    The allow-list (``PARVIS_HTTP_ALLOW_PRIVATE``) is read when the session is created.
    Use it as ``async with AsyncSession() as session: await session.fetch(url)``, from
    one event loop.
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
        self._backend = _GuardedAsyncBackend(resolver, http._AllowList.from_settings())
        self._global = asyncio.Semaphore(max_concurrency)
        self._per_host = per_host
        self._domain = domain
        self._keepalive_expiry = keepalive_expiry
        self._max_idle_origins = max_idle_origins
        self._hosts: dict[str, _HostSlots] = {}
        self._busy: dict[tuple[str, str, int], _Origin] = {}
        self._idle: OrderedDict[tuple[str, str, int], _Origin] = OrderedDict()
        self._ssl_context = http._ssl_context()

    @property
    def connections_opened(self) -> int:
        """TCP connections opened so far (a reused connection counts once)."""
        return self._backend.connections_opened

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
                await connection.aclose()
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
        propagates unchanged. The other arguments mean what they mean for
        :func:`~parvis.core.http.fetch`.
        """
        limit = http.DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        budget = http.DEFAULT_TIMEOUT if timeout is None else timeout
        first = http._parse_url(url)
        state = _HopState(where=url)
        async with self._slot(first.host):
            supplied = headers() if callable(headers) else headers
            request_headers = httpx.Headers(
                http._default_headers(accept_types, domain or self._domain)
            )
            request_headers.update(supplied or {})
            exchange = _Exchange(url, method, request_headers, body, accept_types, limit)
            try:
                async with asyncio.timeout(budget):
                    return await self._follow(exchange, first, max_redirects, budget, state)
            except TimeoutError:
                raise http.Timeout(
                    state.where, f"no complete answer within the {budget:g} s deadline"
                ) from None
            except http._Refused as exc:
                raise http.BlockedDestination(state.where, str(exc)) from None
            except http._Unresolvable as exc:
                raise http.FetchError(state.where, str(exc)) from None
            except httpcore.TimeoutException as exc:
                # A step's own limit (connecting gets 5 s of the deadline).
                raise http.Timeout(state.where, f"{type(exc).__name__}: {exc}") from exc
            except _HTTPCORE_ERRORS as exc:
                raise http.FetchError(state.where, f"{type(exc).__name__}: {exc}") from exc

    async def _follow(
        self,
        exchange: _Exchange,
        current: httpx.URL,
        max_redirects: int,
        budget: float,
        state: _HopState,
    ) -> http.Response:
        url, method, body = exchange.url, exchange.method, exchange.body
        request_headers = exchange.headers
        # Connecting gets 5 s at most; reads and writes have no limit of their own,
        # the asyncio.timeout around this call is the deadline of the whole request.
        timeouts = {"connect": min(http.CONNECT_TIMEOUT, budget), "read": None, "write": None}
        for hop in range(max_redirects + 1):
            state.where = url if hop == 0 else str(current)
            request = httpcore.Request(
                method.encode("ascii"),
                httpcore.URL(
                    scheme=current.raw_scheme,
                    host=current.raw_host,
                    port=current.port,
                    target=current.raw_path,
                ),
                headers=_raw_headers(request_headers, current, body),
                content=body if body is not None else b"",
                extensions={"timeout": timeouts},
            )
            origin, connection = await self._connection(current)
            try:
                response = await connection.handle_async_request(request)
                try:
                    response_headers = httpx.Headers(response.headers)
                    location = response_headers.get("location")
                    if response.status not in http._REDIRECT_STATUSES or not location:
                        return await _acomplete(
                            response,
                            response_headers,
                            method,
                            state.where,
                            exchange.accept_types,
                            exchange.limit,
                        )
                finally:
                    await response.aclose()
            finally:
                await self._release(origin, connection)
            if hop == max_redirects:
                break
            following = http._redirect_target(current, location, state.where)
            method, body = http._redirect_method(method, body, response.status)
            if body is None:
                for name in http._BODY_HEADERS:
                    request_headers.pop(name, None)
            if http._origin(following) != http._origin(current):
                for name in http._ORIGIN_BOUND_HEADERS:
                    request_headers.pop(name, None)
            current = following
        raise http.TooManyRedirects(
            url, f"more than {max_redirects} redirects (last hop {current})"
        )

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold a slot for ``host`` (per-host limit first, then the global one)."""
        key = host.lower().rstrip(".")
        slots = self._hosts.get(key)
        if slots is None:
            slots = self._hosts[key] = _HostSlots(asyncio.Semaphore(self._per_host))
        slots.users += 1
        try:
            # The host's own slot first: a request queued behind a slow host must not
            # hold one of the global slots while it waits.
            async with slots.semaphore, self._global:
                yield
        finally:
            slots.users -= 1
            if slots.users == 0:
                del self._hosts[key]

    async def _connection(self, url: httpx.URL) -> tuple[_Origin, httpcore.AsyncHTTPConnection]:
        """An idle connection to the origin of ``url`` that is still usable, or a new one."""
        key = http._origin(url)
        origin = self._busy.get(key) or self._idle.pop(key, None) or _Origin(key)
        self._busy[key] = origin
        origin.users += 1
        while origin.idle:
            connection = origin.idle.pop()
            if connection.is_available() and not connection.has_expired():
                return origin, connection
            await connection.aclose()
        return origin, httpcore.AsyncHTTPConnection(
            httpcore.Origin(url.raw_scheme, url.raw_host, key[2]),
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._backend,
        )

    async def _release(self, origin: _Origin, connection: httpcore.AsyncHTTPConnection) -> None:
        if connection.is_idle():
            origin.idle.append(connection)
        else:
            await connection.aclose()
        origin.users -= 1
        if origin.users:
            return
        if self._busy.pop(origin.key, None) is not origin:  # the session was closed meanwhile
            for idle in origin.idle:
                await idle.aclose()
            return
        if origin.idle:
            self._idle[origin.key] = origin
        while len(self._idle) > self._max_idle_origins:
            _key, oldest = self._idle.popitem(last=False)
            for idle in oldest.idle:
                await idle.aclose()


def _raw_headers(
    headers: httpx.Headers, url: httpx.URL, body: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The header lines httpx would send: ``Host`` first, ``Content-Length`` for a body."""
    raw: list[tuple[bytes, bytes]] = []
    if "host" not in headers:
        raw.append((b"Host", url.netloc))
    raw.extend(headers.raw)
    if body is not None and "content-length" not in headers:
        raw.append((b"Content-Length", str(len(body)).encode("ascii")))
    return raw


async def _acomplete(
    response: httpcore.Response,
    headers: httpx.Headers,
    method: str,
    url: str,
    accept_types: Sequence[str] | None,
    limit: int,
) -> http.Response:
    """The async twin of :func:`~parvis.core.http._complete`.

    No clock is checked here: the caller's ``asyncio.timeout`` is the deadline.
    """
    http._check_head(response.status, headers, method, url, accept_types, limit)
    decoder = http._BoundedDecoder(headers.get("content-encoding", ""), limit, url)
    received = 0
    async for chunk in response.aiter_stream():
        received += len(chunk)
        if received > limit:
            raise http.ResponseTooLarge(url, f"body exceeds the {limit}-byte limit")
        decoder.feed(chunk)
    return http.Response(status=response.status, headers=headers, body=decoder.finish(), url=url)


async def afetch(
    url: str, *, resolver: http.Resolver | None = None, **options: Any
) -> http.Response:
    """One request through a throw-away :class:`AsyncSession`.

    The options are those of :func:`~parvis.core.http.fetch`.
    """
    async with AsyncSession(resolver=resolver) as session:
        return await session.fetch(url, **options)
