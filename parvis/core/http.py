"""The guarded HTTP client: every outgoing HTTP request of Parvis goes through
:func:`fetch` (one request, here) or :class:`~parvis.core.http_async.AsyncSession` (many,
from an event loop, in :mod:`parvis.core.http_async`). Both apply the checks below with the
address vetting, URL and response helpers of this module; no other code sends requests.

Federation makes Parvis fetch URLs chosen by strangers (actor ids, key ids, inboxes,
media, link previews). Unguarded, such a URL reaches the server's own network (the cloud
metadata service on 169.254.169.254, an admin port on 127.0.0.1, a database in 10/8),
holds a worker forever, or fills its memory. So, for every hop of every request:

1. only ``http`` and ``https`` are fetched;
2. the host is resolved once; IP literals, in every spelling ``inet_aton`` accepts
   (``2130706433``, ``0x7f.1``, ``127.1``…), are parsed instead. If any address is not
   globally reachable, nothing is connected (:class:`BlockedDestination`);
3. the TCP connection goes to the vetted address itself, never through a second DNS
   lookup, so an answer that changes between check and connect (DNS rebinding) cannot
   slip through. TLS (SNI, certificate check) and the ``Host`` header keep the name;
4. redirects are followed by hand, at most three, each hop vetted again;
5. one wall-clock deadline covers the whole request, every read and write included, so a
   server trickling one byte at a time is cut off; the body is capped before reading
   (``Content-Length``) and while reading (compressed bodies are counted decompressed).

Non-public destinations that must stay reachable (test servers, an internal object store)
are listed in the ``PARVIS_HTTP_ALLOW_PRIVATE`` setting, read at each call.

Each call of :func:`fetch` builds its own small connection pool, closed when it returns:
the deadline is enforced in the network streams, which therefore belong to one call.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import unquote

import httpcore
import httpx
from django.conf import settings

DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Same signature and result shape as socket.getaddrinfo, so tests can pass a fake one.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Not globally reachable per the IANA special-purpose registries, but global for some
# Python versions' ipaddress tables (3.11's predate several entries).
_EXTRA_NON_GLOBAL = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments (RFC 6890)
    ipaddress.IPv6Network("2002::/16"),  # 6to4, deprecated (RFC 7526); may wrap anything
    ipaddress.IPv6Network("fec0::/10"),  # site-local, deprecated (RFC 3879)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.IPv6Network("5f00::/16"),  # SRv6 SIDs (RFC 9602)
)
# The globally reachable exceptions inside those (PCP and TURN anycast).
_GLOBAL_EXCEPTIONS = (ipaddress.IPv4Address("192.0.0.9"), ipaddress.IPv4Address("192.0.0.10"))
# Headers that authenticate the caller to one origin: never sent on to another one.
# A signed GET forwarded elsewhere could be replayed against the original server.
_ORIGIN_BOUND_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "signature",
    "signature-input",
    "host",
)
_BODY_HEADERS = ("content-type", "content-length", "digest", "content-digest")


class FetchError(Exception):
    """An outgoing request failed; ``url`` is the URL of the failing hop."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class BlockedDestination(FetchError):
    """The destination is not a public address, or the URL is not fetchable at all."""


class ResponseTooLarge(FetchError):
    """The body is, or announces to be, longer than the allowed number of bytes."""


class UnexpectedContentType(FetchError):
    """A successful response whose media type is not among the expected ones."""


class Timeout(FetchError):
    """The request did not complete within its deadline."""


class TooManyRedirects(FetchError):
    """More redirects than allowed."""


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: the body is fully read, within the limits."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # the final URL, after redirects

    @property
    def media_type(self) -> str:
        """The lower-cased media type of ``Content-Type``, without parameters."""
        return _media_type(self.headers)


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    accept_types: Sequence[str] | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
    domain: str | None = None,
    resolver: Resolver | None = None,
) -> Response:
    """Send one request to a public destination and return the complete response.

    ``accept_types`` lists the acceptable media types (``application/activity+json``…):
    it becomes the ``Accept`` header, and a 2xx answer of another type raises
    :class:`UnexpectedContentType` (error answers are returned whatever their type, so the
    caller sees a 404 or a 410). ``max_bytes`` caps the body (10 MiB by default),
    ``timeout`` is the deadline in seconds for the whole call, redirects included (30 s by
    default; connecting gets at most 5 s of it). At most ``max_redirects`` redirects are
    followed, each hop vetted like the first; one more raises :class:`TooManyRedirects`
    (so with 0, any redirect raises). A 303, or a 301/302 answering a POST, turns the
    request into a body-less GET; credentials and signatures are not sent to another
    origin. ``domain`` names the hosted domain in the User-Agent. ``resolver`` replaces
    ``socket.getaddrinfo`` (tests).

    Raises :class:`FetchError` or one of its subclasses; an HTTP error status is not an
    exception.
    """
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    budget = DEFAULT_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + budget
    backend = _GuardedBackend(resolver or socket.getaddrinfo, _AllowList.from_settings(), deadline)
    current = _parse_url(url)
    request_headers = httpx.Headers(_default_headers(accept_types, domain))
    request_headers.update(headers or {})
    timeouts = {
        "connect": min(CONNECT_TIMEOUT, budget),
        "read": budget,
        "write": budget,
        "pool": min(CONNECT_TIMEOUT, budget),
    }
    with _GuardedTransport(backend) as transport:
        for hop in range(max_redirects + 1):
            # Errors name the URL as the caller wrote it, then each redirect target.
            where = url if hop == 0 else str(current)
            request = httpx.Request(method, current, headers=request_headers, content=body)
            request.extensions["timeout"] = timeouts
            with _translated_errors(where, budget):
                response = transport.handle_request(request)
                response.request = request
                try:
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECT_STATUSES or not location:
                        return _complete(response, where, accept_types, limit, deadline)
                finally:
                    response.close()
            if hop == max_redirects:
                break
            following = _redirect_target(current, location, where)
            method, body = _redirect_method(method, body, response.status_code)
            if body is None:
                for name in _BODY_HEADERS:
                    request_headers.pop(name, None)
            if _origin(following) != _origin(current):
                for name in _ORIGIN_BOUND_HEADERS:
                    request_headers.pop(name, None)
            current = following
    raise TooManyRedirects(url, f"more than {max_redirects} redirects (last hop {current})")


def is_public_address(address: IPAddress) -> bool:
    """Tell whether ``address`` is globally reachable, looking inside IPv6 wrappers.

    An IPv6 address that embeds an IPv4 one (mapped ``::ffff:a.b.c.d``, compatible
    ``::a.b.c.d``, NAT64 ``64:ff9b::/96``) is public only if the embedded address is
    public too; 6to4 and Teredo addresses are never public.
    """
    return _refusal(address) is None


# --- Address vetting ----------------------------------------------------------


def _refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None when it is one."""
    if isinstance(address, ipaddress.IPv4Address):
        return _own_refusal(address)
    inner = _embedded_ipv4(address)
    # Python versions disagree on whether ::ffff:0:0/96 itself is global; a mapped
    # address is its IPv4 address on the wire, so only that one is judged.
    if address.ipv4_mapped is None:
        reason = _own_refusal(address)
        if reason:
            return reason
    if inner is not None:
        reason = _own_refusal(inner)
        if reason:
            return f"an IPv6 form of {inner}, {reason}"
    return None


def _own_refusal(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in _CGNAT:
        return "a shared (CGNAT) address"
    if address not in _GLOBAL_EXCEPTIONS and any(address in net for net in _EXTRA_NON_GLOBAL):
        return "a non-global address"
    if not address.is_global:
        return "a private or reserved address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    # IPv4-compatible ::a.b.c.d (deprecated by RFC 4291, but stacks may still route it)
    # and NAT64 carry the IPv4 address in their low 32 bits. 6to4 (2002::/16) and Teredo
    # (2001::/32) need no unwrapping: both are refused whole.
    if int(address) >> 32 == 0 or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _parse_ipv4_number(text: str) -> int | None:
    """One part of an IPv4 literal as inet_aton reads it: decimal, 0-octal or 0x-hex."""
    text = text.lower()
    if text.startswith("0x"):
        digits, alphabet, base = text[2:], "0123456789abcdef", 16
        if not digits:
            return 0
    elif len(text) > 1 and text.startswith("0"):
        digits, alphabet, base = text[1:], "01234567", 8
    else:
        digits, alphabet, base = text, "0123456789", 10
    if not digits or any(char not in alphabet for char in digits):
        return None
    return int(digits, base)


def _parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host spells, None for a name; ValueError for a malformed literal.

    IPv4 follows ``inet_aton`` (what getaddrinfo does with numeric hosts): one to four
    parts, the last one filling the remaining bytes. A host whose last label is a number
    is never a name (no top-level domain is numeric), so a bad one is refused rather
    than handed to DNS.
    """
    if ":" in host:
        return ipaddress.IPv6Address(unquote(host))
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    # Every number starts with a digit ("0x…" too): most names stop at this test.
    if labels[-1][:1] not in "0123456789" or _parse_ipv4_number(labels[-1]) is None:
        return None
    numbers = [_parse_ipv4_number(label) for label in labels]
    if len(numbers) > 4 or None in numbers:
        raise ValueError(f"malformed IPv4 address {host!r}")
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"out-of-range IPv4 address {host!r}")
    value = last
    for position, number in enumerate(head):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


_UNSEEN = object()
_VERDICTS_KEPT = 4096


@dataclass(frozen=True)
class _AllowList:
    """Non-public networks and host names that may be reached anyway."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    names: frozenset[str]
    # Address → why it is refused (None: reachable). A fan-out vets thousands of
    # connections, most of them to addresses already seen (shared hosting, CDNs).
    _verdicts: dict[IPAddress, str | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def from_settings(cls) -> _AllowList:
        networks, names = [], set()
        for entry in getattr(settings, "PARVIS_HTTP_ALLOW_PRIVATE", []):
            entry = entry.strip()
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(names))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, None when it is public or allow-listed."""
        verdict = self._verdicts.get(address, _UNSEEN)
        if verdict is _UNSEEN:
            reason = _refusal(address)
            verdict = None if reason is None or self.permits(address) else reason
            if len(self._verdicts) >= _VERDICTS_KEPT:
                self._verdicts.clear()
            self._verdicts[address] = verdict
        return verdict  # type: ignore[return-value]

    def permits(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == net.version and candidate in net
            for candidate in candidates
            for net in self.networks
        )


class _Refused(Exception):
    """Raised inside a network backend; the clients turn it into BlockedDestination."""


class _Unresolvable(Exception):
    """Raised inside the network backend when the name does not resolve."""


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, None for a name; a malformed literal is refused."""
    try:
        return _parse_ip_literal(host)
    except ValueError as exc:
        raise _Refused(str(exc)) from None


# The same few answers come back for many names (shared hosting, CDNs).
_address = functools.lru_cache(maxsize=4096)(ipaddress.ip_address)


def _answer_addresses(host: str, answers: Sequence[tuple[Any, ...]]) -> list[IPAddress]:
    """The distinct addresses of getaddrinfo-shaped ``answers``, in their order."""
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            address = _address(answer[4][0])
        except (IndexError, TypeError, ValueError):
            raise _Refused(f"{host} resolves to an unreadable address") from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _Unresolvable(f"{host} has no address")
    return addresses


def _vetted(
    host: str, addresses: list[IPAddress], allow: _AllowList, *, literal: bool
) -> list[IPAddress]:
    """``addresses`` if every one is public or allow-listed; else :class:`_Refused`.

    One non-public answer among public ones refuses the host: the connection could
    otherwise be steered to it by ordering the answers.
    """
    if not literal and host.lower().rstrip(".") in allow.names:
        return addresses
    for address in addresses:
        reason = allow.refusal(address)
        if reason:
            verb = "is" if literal else "resolves to"
            raise _Refused(f"host {host} {verb} {address}, {reason}")
    return addresses


# --- Connections to vetted addresses ------------------------------------------


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, vets, then connects to the vetted address; streams obey the deadline."""

    def __init__(self, resolver: Resolver, allow: _AllowList, deadline: float) -> None:
        self._resolver = resolver
        self._allow = allow
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def vetted_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, all of them public or allow-listed."""
        literal = _literal(host)
        if literal is not None:
            return _vetted(host, [literal], self._allow, literal=True)
        return _vetted(host, self._resolve(host, port), self._allow, literal=False)

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = self._resolver(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:
            raise _Unresolvable(f"cannot resolve {host}: {exc}") from None
        return _answer_addresses(host, answers)

    def _remaining(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise error("deadline reached")
        return remaining if timeout is None else min(timeout, remaining)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable vetted address of ``host``."""
        addresses = self.vetted_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            # Only the vetted address goes to the socket layer: no second lookup.
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    self._remaining(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise _Refused("Unix sockets are not fetchable")


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the request's deadline.

    httpx's timeouts apply to each read separately: a server sending one byte every few
    seconds would never trip them. Clamping each operation to the time left does.
    """

    _WRITE_SLICE = 64 * 1024

    def __init__(self, inner: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend._remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # Sliced so that a server reading slowly cannot stretch one write past the deadline.
        for start in range(0, len(buffer), self._WRITE_SLICE):
            self._inner.write(
                buffer[start : start + self._WRITE_SLICE],
                self._backend._remaining(timeout, httpcore.WriteTimeout),
            )

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._backend._remaining(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs milliseconds; a context is thread-safe.
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses the guarded backend."""

    def __init__(self, backend: _GuardedBackend) -> None:
        # trust_env=False: an HTTP_PROXY variable must not reroute requests around the guard.
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx 0.28 has no public parameter for the network backend, hence the
        # replacement of the pool it built (httpx is pinned in pyproject.toml).
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=4,
            http1=True,
            http2=False,
            network_backend=backend,
        )


# --- Requests and responses ---------------------------------------------------


@functools.cache
def _version() -> str:
    try:
        return version("parvis")
    except PackageNotFoundError:
        return "0"


def user_agent(domain: str | None = None) -> str:
    """``Parvis/<version> (+https://<domain>)``; the default domain comes from settings."""
    domain = domain or getattr(settings, "PARVIS_DEFAULT_DOMAIN", "")
    product = f"Parvis/{_version()}"
    return f"{product} (+https://{domain})" if domain else product


def _default_headers(accept_types: Sequence[str] | None, domain: str | None) -> dict[str, str]:
    return {
        "User-Agent": user_agent(domain),
        "Accept": ", ".join(accept_types) if accept_types else "*/*",
        # Only what _BoundedDecoder can decompress with a bounded output.
        "Accept-Encoding": "gzip, deflate",
    }


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BlockedDestination(url, f"invalid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise BlockedDestination(url, f"scheme {parsed.scheme!r} is not fetched")
    if not parsed.host:
        raise BlockedDestination(url, "no host")
    return parsed


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _redirect_target(current: httpx.URL, location: str, where: str) -> httpx.URL:
    try:
        target = current.join(location)
    except httpx.InvalidURL as exc:
        raise BlockedDestination(where, f"invalid redirect {location!r} ({exc})") from None
    if target.scheme not in ("http", "https"):
        raise BlockedDestination(where, f"redirect to scheme {target.scheme!r} refused")
    if current.scheme == "https" and target.scheme == "http":
        raise BlockedDestination(where, f"redirect from https down to {target} refused")
    return _parse_url(str(target.copy_with(fragment=None)))


def _redirect_method(method: str, body: bytes | None, status: int) -> tuple[str, bytes | None]:
    """The method and body of the next hop, as browsers and httpx do it."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET", None
    return method, body


def _media_type(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


@contextmanager
def _translated_errors(url: str, budget: float) -> Iterator[None]:
    try:
        yield
    except _Refused as exc:
        raise BlockedDestination(url, str(exc)) from None
    except _Unresolvable as exc:
        raise FetchError(url, str(exc)) from None
    except httpx.TimeoutException as exc:
        raise Timeout(url, f"{type(exc).__name__} within the {budget:g} s deadline") from exc
    except httpx.HTTPError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc


def _check_head(
    status: int,
    headers: httpx.Headers,
    method: str,
    url: str,
    accept_types: Sequence[str] | None,
    limit: int,
) -> None:
    """Refuse a response by its head: unexpected media type, or announced as too large."""
    if accept_types and 200 <= status < 300:
        media = _media_type(headers)
        if media not in {kind.lower() for kind in accept_types}:
            raise UnexpectedContentType(
                url, f"content type {media or 'missing'!r} is not one of {list(accept_types)}"
            )
    announced = headers.get("content-length", "")
    # A HEAD answer announces the size of a body it does not send.
    if method != "HEAD" and announced.isdigit() and int(announced) > limit:
        raise ResponseTooLarge(url, f"Content-Length {announced} exceeds the {limit}-byte limit")


def _complete(
    response: httpx.Response,
    url: str,
    accept_types: Sequence[str] | None,
    limit: int,
    deadline: float,
) -> Response:
    """Check the announced type and size, then read the body within the limits."""
    _check_head(
        response.status_code, response.headers, response.request.method, url, accept_types, limit
    )
    decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), limit, url)
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > limit:
            raise ResponseTooLarge(url, f"body exceeds the {limit}-byte limit")
        decoder.feed(chunk)
        if time.monotonic() > deadline:
            raise Timeout(url, "deadline reached while reading the body")
    return Response(
        status=response.status_code,
        headers=httpx.Headers(response.headers),
        body=decoder.finish(),
        url=url,
    )


class _BoundedDecoder:
    """Content-Encoding decoder that never produces more than ``limit`` bytes.

    httpx decompresses each received chunk whole: one 64 KiB gzip chunk can expand to
    64 MiB. zlib's ``max_length`` stops at the limit instead.
    """

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        coding = encoding.strip().lower()
        self._limit = limit
        self._url = url
        self._parts: list[bytes] = []
        self._size = 0
        if coding in ("", "identity"):
            self._zlib = None
        elif coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        else:
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise ResponseTooLarge(self._url, f"decoded body exceeds the {self._limit}-byte limit")
        self._parts.append(data)

    def feed(self, data: bytes) -> None:
        if self._zlib is None:
            self._keep(data)
            return
        try:
            # One byte past the room left is enough to know the limit is exceeded.
            self._keep(self._zlib.decompress(data, self._limit - self._size + 1))
        except zlib.error as exc:
            raise FetchError(self._url, f"corrupt compressed body ({exc})") from None

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._keep(self._zlib.flush())
            except zlib.error as exc:
                raise FetchError(self._url, f"corrupt compressed body ({exc})") from None
        return b"".join(self._parts)
