"""The guarded HTTP client (checklist rows F1, F2, F3).

Every test runs with TCP connections watched: each ``socket.connect`` is recorded, and
one to anything but the loopback network is refused, so the suite never leaves the
machine. Local servers run in threads on 127.0.0.1, reachable only because the tests
allow-list them through ``PARVIS_HTTP_ALLOW_PRIVATE``.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from parvis.core import http, http_async
from parvis.core.http import (
    BlockedDestination,
    FetchError,
    ResponseTooLarge,
    Timeout,
    TooManyRedirects,
    UnexpectedContentType,
    fetch,
    is_public_address,
)

PUBLIC_V4 = "93.184.216.34"
UNSPECIFIED_V4 = "0.0.0.0"  # noqa: S104 (a destination here, not a bind address)
ACTIVITY_JSON = "application/activity+json"
GZIP_BOMB = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)  # ~8 KB → 8 MiB

# --- Watching connections ---------------------------------------------------------


@contextmanager
def watched_connections() -> Iterator[list[tuple[str, int]]]:
    """Record every TCP connect; refuse any that would leave the loopback network."""
    attempts: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address) -> None:
        attempts.append((address[0], address[1]))
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"the tests never connect to {address[0]}")
        real_connect(sock, address)

    with mock.patch.object(socket.socket, "connect", connect):
        yield attempts


@pytest.fixture(autouse=True)
def connections() -> Iterator[list[tuple[str, int]]]:
    with watched_connections() as attempts:
        yield attempts


def fake_resolver(table: dict[str, list[str]], calls: list[str] | None = None):
    """A getaddrinfo look-alike answering from ``table`` (names without trailing dot)."""

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if calls is not None:
            calls.append(host)
        answers = table.get(host.rstrip("."))
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in answers
        ]

    return resolve


# --- F1: non-public destinations, in every spelling -----------------------------

NON_PUBLIC_V4 = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.254",
    UNSPECIFIED_V4,
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",
    "192.0.0.8",
]


SPELLED_V4 = ("127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", UNSPECIFIED_V4)


def ipv4_spellings(address: str) -> list[str]:
    """The ways inet_aton (hence getaddrinfo) accepts to write ``address``."""
    packed = ipaddress.IPv4Address(address).packed
    number = int.from_bytes(packed, "big")
    a, b, c, d = packed
    return [
        str(number),  # 2130706433
        hex(number),  # 0x7f000001
        hex(number).upper(),  # 0X7F000001
        "0" + format(number, "o"),  # 017700000001
        ".".join("0" + format(byte, "o") for byte in packed),  # 0177.00.00.01
        ".".join(hex(byte) for byte in packed),  # 0x7f.0x0.0x0.0x1
        f"{a}.{(b << 16) | (c << 8) | d}",  # 127.1
        f"{a}.{b}.{(c << 8) | d}",  # 127.0.1
        f"{hex(a)}.{(b << 16) | (c << 8) | d}",  # 0x7f.1
        f"{address}.",  # trailing dot
    ]


NON_PUBLIC_V6 = [
    "::1",
    "::",
    "0:0:0:0:0:0:0:1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fe80::1%25eth0",
    "ff02::1",
    "ff0e::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "0:0:0:0:0:ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "::127.0.0.1",
    "::10.0.0.1",
    "64:ff9b::10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::808:808",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
    "3fff::1",
    "fec0::1",
    "100::1",
]

PRIVATE_NAMES = {
    "loopback.example": ["127.0.0.1"],
    "internal.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "cgnat.example": ["100.64.1.1"],
    "zero.example": [UNSPECIFIED_V4],
    "ula.example": ["fd00::1"],
    "linklocal6.example": ["fe80::1%eth0"],
    "mapped.example": ["::ffff:192.168.0.1"],
    "nat64.example": ["64:ff9b::a00:1"],
    # One bad answer among good ones is enough to refuse the host.
    "mixed.example": [PUBLIC_V4, "127.0.0.1"],
    "mixed6.example": ["2606:4700::1", "::1"],
}

TRICKY_URLS = [
    "http://public.example@127.0.0.1/",
    "http://public.example:443@10.0.0.1/",
    "http://user:secret@[::1]/",
    "https://public.example@169.254.169.254/latest/meta-data/",
    "http://127.0.0.1#@public.example/",
    "http://127.0.0.1?@public.example/",
    "http://127.0.0.1:6379/",
    "https://[::1]:8443/inbox",
    "http://127。0。0。1/",
    "http://INTERNAL.example/",
    "http://internal.example./",
    "http://1.2.3.4.5/",
    "http://999.1.1.1/",
    "http://public.0x1/",
]


def f1_urls() -> list[str]:
    urls = [f"http://{address}/" for address in NON_PUBLIC_V4]
    for address in SPELLED_V4:
        urls += [f"http://{form}/" for form in ipv4_spellings(address)]
    urls += [f"http://[{address}]/" for address in NON_PUBLIC_V6]
    urls += [f"http://{name}/" for name in PRIVATE_NAMES]
    urls += TRICKY_URLS
    return list(dict.fromkeys(urls))


F1_URLS = f1_urls()


@pytest.fixture
def no_allow_list(settings) -> None:
    settings.PARVIS_HTTP_ALLOW_PRIVATE = []


@pytest.mark.usefixtures("no_allow_list")
@pytest.mark.parametrize("url", F1_URLS)
def test_non_public_destination_is_blocked_before_any_connection(url, connections):
    asked: list[str] = []
    with pytest.raises(BlockedDestination) as refused:
        fetch(url, resolver=fake_resolver(PRIVATE_NAMES, asked))
    assert connections == []
    assert url in str(refused.value)
    # IP literals are parsed, never handed to DNS.
    assert all(host.rstrip(".").lower() in PRIVATE_NAMES for host in asked)


@pytest.mark.usefixtures("no_allow_list")
def test_f1_headline_figure(connections, capsys):
    refused = 0
    for url in F1_URLS:
        try:
            fetch(url, resolver=fake_resolver(PRIVATE_NAMES))
        except BlockedDestination:
            refused += 1
    with capsys.disabled():
        print(
            f"\nF1: {len(F1_URLS)} non-public address forms, {refused} refused, "
            f"{len(connections)} connections opened"
        )
    assert len(F1_URLS) >= 40
    assert refused == len(F1_URLS)
    assert connections == []


def test_ipv4_spellings_are_read_as_inet_aton_reads_them():
    for address in SPELLED_V4:
        for form in ipv4_spellings(address):
            assert socket.inet_aton(form.rstrip(".")) == ipaddress.IPv4Address(address).packed
            assert http._parse_ip_literal(form) == ipaddress.IPv4Address(address)


# --- Property tests -----------------------------------------------------------------

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IANA's not-globally-reachable ranges that Python 3.11's tables miss (6to4 included:
# deprecated, and it can wrap any IPv4 address), with the two global exceptions.
EXTRA_NON_GLOBAL = [
    ipaddress.ip_network(net)
    for net in [
        *("192.0.0.0/24", "2002::/16", "fec0::/10"),
        *("64:ff9b:1::/48", "3fff::/20", "5f00::/16"),
    ]
]
GLOBAL_EXCEPTIONS = [ipaddress.IPv4Address("192.0.0.9"), ipaddress.IPv4Address("192.0.0.10")]


def expected_public(address) -> bool:
    """The rule stated independently: ``is_global`` after unwrapping, never multicast."""
    if address.version == 6 and address.ipv4_mapped is not None:
        return expected_public(address.ipv4_mapped)
    judged = [address]
    if address.version == 6 and (int(address) < 2**32 or address in NAT64):
        judged.append(ipaddress.IPv4Address(int(address) % 2**32))
    return all(
        one.is_global
        and not one.is_multicast
        and (one in GLOBAL_EXCEPTIONS or not any(one in net for net in EXTRA_NON_GLOBAL))
        for one in judged
    )


ipv4 = st.ip_addresses(v=4)
wrapped_ipv4 = st.one_of(
    ipv4.map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}")),
    ipv4.map(lambda a: ipaddress.IPv6Address(int(a))),  # IPv4-compatible
    ipv4.map(lambda a: ipaddress.IPv6Address(int(NAT64.network_address) + int(a))),
    st.tuples(ipv4, st.integers(0, 2**80 - 1)).map(
        lambda t: ipaddress.IPv6Address((0x2002 << 112) | (int(t[0]) << 80) | t[1])
    ),
)
any_address = st.one_of(ipv4, st.ip_addresses(v=6), wrapped_ipv4)


@given(any_address)
@hypothesis_settings(max_examples=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_vetting_blocks_exactly_the_non_global_addresses(address):
    assert is_public_address(address) == expected_public(address)
    if is_public_address(address):
        # Never lets through what Python itself knows to be non-global.
        assert address.is_global or address.ipv4_mapped is not None


non_public_v4 = st.one_of(
    *(
        st.integers(int(net.network_address), int(net.broadcast_address)).map(ipaddress.IPv4Address)
        for net in map(
            ipaddress.IPv4Network,
            [
                *("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
                *("169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"),
            ],
        )
    )
)


@st.composite
def inet_aton_spelling(draw, address_strategy=non_public_v4):
    """A random inet_aton spelling of a random address: 1 to 4 parts, each in any base."""
    address = draw(address_strategy)
    packed = address.packed
    count = draw(st.integers(1, 4))
    values = [*packed[: count - 1], int.from_bytes(packed[count - 1 :], "big")]
    parts = []
    for value in values:
        base = draw(st.sampled_from(["dec", "oct", "hex"]))
        if base == "oct":
            parts.append("0" + format(value, "o"))
        elif base == "hex":
            parts.append(draw(st.sampled_from(["0x", "0X"])) + format(value, "x"))
        else:
            parts.append(str(value))
    return address, ".".join(parts)


@given(inet_aton_spelling(address_strategy=ipv4))
@hypothesis_settings(max_examples=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ip_literals_are_parsed_like_inet_aton(pair):
    address, form = pair
    assert socket.inet_aton(form) == address.packed
    assert http._parse_ip_literal(form) == address


@given(inet_aton_spelling())
@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_spelling_of_a_non_public_ipv4_is_blocked(pair):
    _address, form = pair
    with (
        watched_connections() as attempts,
        override_settings(PARVIS_HTTP_ALLOW_PRIVATE=[]),
        pytest.raises(BlockedDestination),
    ):
        fetch(f"http://{form}/", resolver=fake_resolver({}))
    assert attempts == []


# --- Local servers ------------------------------------------------------------------

STOP = threading.Event()


class Handler(BaseHTTPRequestHandler):
    """Routes by path; records what it received in ``server.seen``."""

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        return body

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, payload: bytes, interval: float) -> None:
        """One byte every ``interval`` seconds, until the client goes or the tests end."""
        try:
            self.wfile.write(payload)
            self.wfile.flush()
            while not STOP.wait(interval):
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            return

    def do_POST(self) -> None:
        self.do_GET()

    def do_HEAD(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Content-Type", ACTIVITY_JSON)
        self.send_header("Content-Length", str(100 * 1024 * 1024))
        self.end_headers()

    def do_GET(self) -> None:
        body = self._record()
        route = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(route.query).items()}
        if route.path == "/echo":
            self._send(
                200,
                b'{"type": "Note"}' + body,
                f"{ACTIVITY_JSON}; charset=utf-8",
                X_Served_By="test",
            )
        elif route.path == "/redirect":
            self.send_response(int(query.get("status", "302")))
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif route.path == "/html":
            self._send(int(query.get("status", "200")), b"<p>hello</p>", "text/html")
        elif route.path == "/gzip":
            payload = gzip.compress(b'{"type": "Note"}')
            self._send(200, payload, ACTIVITY_JSON, Content_Encoding="gzip")
        elif route.path == "/gzip-bomb":
            self._send(200, GZIP_BOMB, ACTIVITY_JSON, Content_Encoding="gzip")
        elif route.path == "/announce-huge":
            self.send_response(200)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.send_header("Content-Length", str(100 * 1024 * 1024))
            self.end_headers()
            self._trickle(b"{", 0.2)
        elif route.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.end_headers()  # HTTP/1.0, no length: the body lasts until the close
            try:
                while not STOP.is_set():
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        elif route.path == "/slow-body":
            self.send_response(200)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self._trickle(b"", 1.0)
        elif route.path == "/slow-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            self._trickle(b"", 0.5)
        else:
            self._send(404, b"not found", "text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadingHTTPServer]:
    STOP.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    STOP.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def local(server, settings) -> str:
    """Base URL of the test server, allow-listed for this test only."""
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    server.seen.clear()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def silent_socket() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


# --- Normal use ---------------------------------------------------------------------


def test_fetch_from_an_allow_listed_server(local, server):
    response = fetch(f"{local}/echo", accept_types=[ACTIVITY_JSON], domain="blois.example")
    assert response.status == 200
    assert response.body == b'{"type": "Note"}'
    assert response.headers["x-served-by"] == "test"
    assert response.media_type == ACTIVITY_JSON
    assert response.url == f"{local}/echo"
    _method, _path, headers, _body = server.seen[-1]
    assert headers["User-Agent"] == f"Parvis/{version('parvis')} (+https://blois.example)"
    assert headers["Accept"] == ACTIVITY_JSON


def test_user_agent_defaults_to_the_default_domain(local, server, settings):
    settings.PARVIS_DEFAULT_DOMAIN = "social.example.fr"
    fetch(f"{local}/echo")
    assert server.seen[-1][2]["User-Agent"].endswith("(+https://social.example.fr)")


def test_post_with_body_and_caller_headers(local, server):
    response = fetch(
        f"{local}/echo",
        method="POST",
        body=b"!",
        headers={"Content-Type": ACTIVITY_JSON, "User-Agent": "custom"},
    )
    assert response.body.endswith(b"!")
    method, _path, headers, body = server.seen[-1]
    assert (method, body, headers["User-Agent"]) == ("POST", b"!", "custom")


def test_gzip_body_is_decoded(local):
    assert fetch(f"{local}/gzip").body == b'{"type": "Note"}'


def test_error_status_is_returned_whatever_its_type(local):
    response = fetch(f"{local}/html?status=410", accept_types=[ACTIVITY_JSON])
    assert response.status == 410


def test_allow_list_by_host_name(server, settings):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["Object-Store.internal"]
    port = server.server_address[1]
    resolver = fake_resolver({"object-store.internal": ["127.0.0.1"]})
    response = fetch(f"http://object-store.internal:{port}/echo", resolver=resolver)
    assert response.status == 200


def test_default_resolver_is_getaddrinfo(server, settings, connections):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["localhost"]
    response = fetch(f"http://localhost:{server.server_address[1]}/echo")
    assert response.status == 200
    assert connections[-1] == ("127.0.0.1", server.server_address[1])


# --- F2: DNS rebinding and redirects --------------------------------------------------


@pytest.mark.usefixtures("no_allow_list")
def test_rebinding_connects_only_to_the_first_vetted_answer(connections):
    """First lookup public, every later one loopback: only the public one is dialled."""
    asked: list[str] = []
    answers = iter([[PUBLIC_V4]])

    def rebinding(host, port, *args):
        asked.append(host)
        table = {"rebind.example": next(answers, ["127.0.0.1"])}
        return fake_resolver(table)(host, port)

    with pytest.raises(FetchError) as failed:
        fetch("http://rebind.example/", resolver=rebinding)
    assert not isinstance(failed.value, BlockedDestination)  # refused by our fake network
    assert asked == ["rebind.example"]
    assert connections == [(PUBLIC_V4, 80)]


def test_connection_uses_the_vetted_address_not_a_second_lookup(server, settings, connections):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    port = server.server_address[1]
    asked: list[str] = []
    answers = iter([["127.0.0.1"]])

    def rebinding(host, port, *args):
        asked.append(host)
        return fake_resolver({"rebind.example": next(answers, ["10.0.0.1"])})(host, port)

    real_getaddrinfo = socket.getaddrinfo
    system_lookups: list[str] = []

    def watched_getaddrinfo(host, *args, **kwargs):
        system_lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    server.seen.clear()
    with mock.patch.object(socket, "getaddrinfo", watched_getaddrinfo):
        response = fetch(f"http://rebind.example:{port}/echo", resolver=rebinding)
    assert response.status == 200
    assert asked == ["rebind.example"]
    assert "rebind.example" not in system_lookups
    assert connections == [("127.0.0.1", port)]
    # TLS and virtual hosting see the name, not the address.
    assert server.seen[-1][2]["Host"] == f"rebind.example:{port}"


@pytest.mark.usefixtures("no_allow_list")
def test_one_private_answer_among_public_ones_blocks(connections):
    resolver = fake_resolver({"mixed.example": [PUBLIC_V4, "127.0.0.1"]})
    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1"):
        fetch("http://mixed.example/", resolver=resolver)
    assert connections == []


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/echo",
        "http://0x7f000002:{port}/echo",
        "http://[::1]:{port}/echo",
        "http://internal.example:{port}/echo",
        "http://metadata.example/latest/meta-data/",
    ],
)
def test_redirect_to_a_private_destination_is_blocked(local, server, connections, target):
    port = server.server_address[1]
    destination = target.format(port=port)
    with pytest.raises(BlockedDestination):
        fetch(
            f"{local}/redirect?to={destination}",
            resolver=fake_resolver(PRIVATE_NAMES),
        )
    assert connections == [("127.0.0.1", port)]
    assert [path for _m, path, _h, _b in server.seen] == [f"/redirect?to={destination}"]


@pytest.mark.parametrize(
    "target", ["ftp://example.org/file", "file:///etc/passwd", "gopher://127.0.0.1:6379/_"]
)
def test_redirect_to_another_scheme_is_blocked(local, target):
    with pytest.raises(BlockedDestination, match="scheme"):
        fetch(f"{local}/redirect?to={target}")


def test_redirect_loop_stops_after_three_hops(local, server):
    with pytest.raises(TooManyRedirects):
        fetch(f"{local}/loop")
    assert len(server.seen) == 1 + http.MAX_REDIRECTS


def test_redirects_are_followed_and_cross_origin_credentials_dropped(local, server):
    port = server.server_address[1]
    alias = f"http://alias.example:{port}/echo"
    response = fetch(
        f"{local}/redirect?status=303&to={alias}",
        method="POST",
        body=b"payload",
        headers={"Signature": "keyId=x", "Content-Type": ACTIVITY_JSON, "X-Keep": "1"},
        resolver=fake_resolver({"alias.example": ["127.0.0.1"]}),
    )
    assert response.url == alias
    assert response.status == 200
    method, _path, headers, body = server.seen[-1]
    assert (method, body) == ("GET", b"")
    assert "Signature" not in headers and "Content-Type" not in headers
    assert headers["X-Keep"] == "1"
    assert headers["Host"] == f"alias.example:{port}"


# --- F3: slow, endless and wrong answers ------------------------------------------------


def test_slow_loris_body_is_cut_at_the_deadline(local):
    started = time.monotonic()
    with pytest.raises(Timeout):
        fetch(f"{local}/slow-body", timeout=2)
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 4


def test_slow_loris_headers_are_cut_at_the_deadline(local):
    started = time.monotonic()
    with pytest.raises(Timeout):
        fetch(f"{local}/slow-headers", timeout=2)
    assert time.monotonic() - started < 4


def test_announced_huge_body_is_refused_before_reading(local):
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="Content-Length"):
        fetch(f"{local}/announce-huge")
    assert time.monotonic() - started < 1


def test_head_announcing_a_huge_body_is_fine(local):
    assert fetch(f"{local}/announce-huge", method="HEAD").body == b""


def test_endless_body_stops_at_max_bytes(local):
    with pytest.raises(ResponseTooLarge):
        fetch(f"{local}/endless", max_bytes=1024 * 1024)


def test_endless_body_stops_at_the_default_limit(local):
    with pytest.raises(ResponseTooLarge, match=str(http.DEFAULT_MAX_BYTES)):
        fetch(f"{local}/endless")


def test_gzip_bomb_is_counted_decompressed(local):
    assert len(GZIP_BOMB) < 64 * 1024
    with pytest.raises(ResponseTooLarge, match="decoded"):
        fetch(f"{local}/gzip-bomb", max_bytes=1024 * 1024)


def test_wrong_content_type_is_refused(local):
    with pytest.raises(UnexpectedContentType, match="text/html"):
        fetch(f"{local}/html", accept_types=[ACTIVITY_JSON, "application/ld+json"])


def test_server_that_never_answers_times_out(settings, silent_socket):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    started = time.monotonic()
    with pytest.raises(Timeout):
        fetch(f"http://127.0.0.1:{silent_socket}/", timeout=1)
    assert time.monotonic() - started < 2


def test_tls_handshake_hang_times_out_at_the_connect_limit(settings, silent_socket, monkeypatch):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(Timeout):
        fetch(f"https://127.0.0.1:{silent_socket}/", timeout=10)
    assert time.monotonic() - started < 2


def test_unanswered_connect_times_out_at_the_connect_limit(settings, monkeypatch):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.5)
    # A listener with a full accept queue: the kernel drops further SYNs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        started = time.monotonic()
        with pytest.raises(Timeout):
            fetch(f"http://127.0.0.1:{port}/", timeout=10)
        assert time.monotonic() - started < 2
    finally:
        filler.close()
        listener.close()


# --- TLS keeps the name -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[tuple[int, ssl.SSLContext, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for ``tls.example`` only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.example")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_names: list[str] = []
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    server_context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    client_context = ssl.create_default_context(cafile=str(cert_file))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.seen = []
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], client_context, server_names
    httpd.shutdown()
    httpd.server_close()


def test_tls_verifies_and_announces_the_name_not_the_vetted_address(
    tls_server, settings, monkeypatch, connections
):
    port, client_context, server_names = tls_server
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    monkeypatch.setattr(http, "_ssl_context", lambda: client_context)
    resolver = fake_resolver({"tls.example": ["127.0.0.1"]})
    response = fetch(f"https://tls.example:{port}/echo", resolver=resolver)
    assert response.status == 200
    assert server_names[-1] == "tls.example"
    assert connections == [("127.0.0.1", port)]
    # The certificate names tls.example, not the address: dialling the address fails.
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED"):
        fetch(f"https://127.0.0.1:{port}/echo")


# --- The async session: the same guarantees for many requests ------------------------


def afetch(url: str, **options) -> http.Response:
    """One request through a throw-away AsyncSession, from a fresh event loop."""
    return asyncio.run(http_async.afetch(url, **options))


@pytest.mark.usefixtures("no_allow_list")
@pytest.mark.parametrize("url", F1_URLS)
def test_async_non_public_destination_is_blocked_before_any_connection(url, connections):
    asked: list[str] = []
    with pytest.raises(BlockedDestination) as refused:
        afetch(url, resolver=fake_resolver(PRIVATE_NAMES, asked))
    assert connections == []
    assert url in str(refused.value)
    assert all(host.rstrip(".").lower() in PRIVATE_NAMES for host in asked)


@pytest.mark.usefixtures("no_allow_list")
def test_async_private_address_refused_by_the_default_resolver(connections):
    # getaddrinfo runs in a thread; its answer is vetted all the same.
    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1"):
        afetch("http://localhost:9/")
    assert connections == []


@pytest.mark.usefixtures("no_allow_list")
def test_async_rebinding_connects_only_to_the_first_vetted_answer(connections):
    asked: list[str] = []
    answers = iter([[PUBLIC_V4]])

    def rebinding(host, port, *args):
        asked.append(host)
        table = {"rebind.example": next(answers, ["127.0.0.1"])}
        return fake_resolver(table)(host, port)

    with pytest.raises(FetchError) as failed:
        afetch("http://rebind.example/", resolver=rebinding)
    assert not isinstance(failed.value, BlockedDestination)  # refused by our fake network
    assert asked == ["rebind.example"]
    assert connections == [(PUBLIC_V4, 80)]


def test_async_connection_uses_the_vetted_address_not_a_second_lookup(
    server, settings, connections
):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    port = server.server_address[1]
    asked: list[str] = []
    answers = iter([["127.0.0.1"]])

    def rebinding(host, port, *args):
        asked.append(host)
        return fake_resolver({"rebind.example": next(answers, ["10.0.0.1"])})(host, port)

    system_lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def watched_getaddrinfo(host, *args, **kwargs):
        system_lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    server.seen.clear()
    with mock.patch.object(socket, "getaddrinfo", watched_getaddrinfo):
        response = afetch(f"http://rebind.example:{port}/echo", resolver=rebinding)
    assert response.status == 200
    assert asked == ["rebind.example"]
    assert "rebind.example" not in system_lookups
    assert connections == [("127.0.0.1", port)]
    assert server.seen[-1][2]["Host"] == f"rebind.example:{port}"


def test_async_redirect_to_a_private_destination_is_blocked(local, server, connections):
    port = server.server_address[1]
    with pytest.raises(BlockedDestination):
        afetch(f"{local}/redirect?to=http://169.254.169.254/latest/meta-data/")
    assert connections == [("127.0.0.1", port)]


def test_async_fetch_reads_post_and_decodes(local, server):
    response = afetch(
        f"{local}/echo",
        method="POST",
        body=b"!",
        headers={"Content-Type": ACTIVITY_JSON},
        accept_types=[ACTIVITY_JSON],
        domain="blois.example",
    )
    assert (response.status, response.media_type) == (200, ACTIVITY_JSON)
    assert response.body == b'{"type": "Note"}!'
    method, _path, headers, body = server.seen[-1]
    assert (method, body) == ("POST", b"!")
    assert headers["User-Agent"] == f"Parvis/{version('parvis')} (+https://blois.example)"
    assert afetch(f"{local}/gzip").body == b'{"type": "Note"}'


def test_async_server_that_never_answers_times_out(settings, silent_socket):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    started = time.monotonic()
    with pytest.raises(Timeout):
        afetch(f"http://127.0.0.1:{silent_socket}/", timeout=1)
    assert time.monotonic() - started < 2


def test_async_slow_loris_body_is_cut_at_the_deadline(local):
    started = time.monotonic()
    with pytest.raises(Timeout):
        afetch(f"{local}/slow-body", timeout=2)
    assert 1.5 < time.monotonic() - started < 4


def test_async_size_limits(local):
    with pytest.raises(ResponseTooLarge, match="Content-Length"):
        afetch(f"{local}/announce-huge")
    with pytest.raises(ResponseTooLarge):
        afetch(f"{local}/endless", max_bytes=1024 * 1024)
    with pytest.raises(ResponseTooLarge, match="decoded"):
        afetch(f"{local}/gzip-bomb", max_bytes=1024 * 1024)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; records how many requests it served at once."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        stats = self.server.stats
        with stats["lock"]:
            stats["now"] += 1
            stats["peak"] = max(stats["peak"], stats["now"])
            stats["ports"].add(self.client_address[1])
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.01)
        with stats["lock"]:
            stats["now"] -= 1
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def keepalive_server(settings) -> Iterator[ThreadingHTTPServer]:
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    httpd.daemon_threads = True
    httpd.stats = {"lock": threading.Lock(), "now": 0, "peak": 0, "ports": set()}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_async_session_reuses_connections_within_the_per_host_cap(keepalive_server):
    port = keepalive_server.server_address[1]
    signed_when: list[int] = []

    async def many() -> tuple[list[int], int]:
        async with http_async.AsyncSession(max_concurrency=50, per_host=3) as session:

            async def one(i: int) -> int:
                def headers() -> dict[str, str]:
                    # Called once the slot is held: never more than 3 requests past here.
                    signed_when.append(i)
                    return {"X-Request": str(i)}

                response = await session.fetch(
                    f"http://127.0.0.1:{port}/inbox", method="POST", body=b"x", headers=headers
                )
                return response.status

            statuses = await asyncio.gather(*(one(i) for i in range(60)))
            return statuses, session.connections_opened

    statuses, opened = asyncio.run(many())
    assert statuses == [202] * 60 and len(signed_when) == 60
    assert opened <= 3 and len(keepalive_server.stats["ports"]) <= 3
    assert keepalive_server.stats["peak"] <= 3


def test_async_slow_host_holds_only_its_own_slots(keepalive_server, silent_socket):
    """A host that never answers takes its per-host slots, never the others' time."""
    port = keepalive_server.server_address[1]

    async def mixed() -> tuple[float, list[str]]:
        async with http_async.AsyncSession(max_concurrency=10, per_host=2) as session:
            started = time.monotonic()
            silent = [
                asyncio.create_task(session.fetch(f"http://localhost:{silent_socket}/", timeout=1))
                for _ in range(6)
            ]
            await asyncio.sleep(0.1)
            answers = await asyncio.gather(
                *(
                    session.fetch(f"http://127.0.0.1:{port}/inbox", method="POST", body=b"x")
                    for _ in range(20)
                )
            )
            healthy = time.monotonic() - started
            outcomes = await asyncio.gather(*silent, return_exceptions=True)
            assert all(a.status == 202 for a in answers)
            return healthy, [type(o).__name__ for o in outcomes]

    keepalive_server.stats["ports"].clear()
    with override_settings(PARVIS_HTTP_ALLOW_PRIVATE=["127.0.0.1/32", "localhost"]):
        healthy, outcomes = asyncio.run(mixed())
    assert healthy < 0.9  # all answered before the first silent request timed out
    assert outcomes == ["Timeout"] * 6


def test_async_tls_verifies_and_announces_the_name_not_the_vetted_address(
    tls_server, settings, monkeypatch, connections
):
    port, client_context, server_names = tls_server
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    monkeypatch.setattr(http, "_ssl_context", lambda: client_context)
    resolver = fake_resolver({"tls.example": ["127.0.0.1"]})
    response = afetch(f"https://tls.example:{port}/echo", resolver=resolver)
    assert response.status == 200
    assert server_names[-1] == "tls.example"
    assert connections == [("127.0.0.1", port)]
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED"):
        afetch(f"https://127.0.0.1:{port}/echo")


def test_async_tls_handshake_hang_times_out_at_the_connect_limit(
    settings, silent_socket, monkeypatch
):
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(Timeout):
        afetch(f"https://127.0.0.1:{silent_socket}/", timeout=10)
    assert time.monotonic() - started < 2


# --- The async session's own HTTP/1.1: framing, malformed answers, keep-alive ----------


def _chunked(sock: socket.socket) -> bool:
    """A chunked body in separate packets, with a trailer; the connection stays open."""
    sock.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    for part in (b'{"type":', b' "Note"}'):
        time.sleep(0.01)
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    sock.sendall(b"0\r\nX-Trailer: not a header\r\n\r\n")
    return True


def _chunked_endless(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while not STOP.is_set():
        sock.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
    return False


def _length_over_limit(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + b"x" * 300_000)
    return True


def _cut_mid_body(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    return False


def _cut_mid_chunk(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nxxxx")
    return False


def _until_close(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread until")
    time.sleep(0.01)
    sock.sendall(b" the end")
    return False


def _bad_status_line(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
    return True


def _early_hints(sock: socket.socket) -> bool:
    sock.sendall(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    return True


def _switching_protocols(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
    return True


def _endless_head(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\n")
    while not STOP.is_set():
        sock.sendall(b"X-Filler: " + b"x" * 1000 + b"\r\n")
    return False


def _accepted(sock: socket.socket) -> bool:
    sock.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
    return True


def _accepted_then_closed(sock: socket.socket) -> bool:
    """Keep-alive by the protocol's default, then closed by the server while idle."""
    sock.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
    time.sleep(0.05)
    return False


def _accepted_and_more(sock: socket.socket) -> bool:
    """An answer followed by bytes nobody asked for."""
    sock.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")
    return True


SCRIPTS = {
    "/chunked": _chunked,
    "/chunked-endless": _chunked_endless,
    "/length-over-limit": _length_over_limit,
    "/cut-mid-body": _cut_mid_body,
    "/cut-mid-chunk": _cut_mid_chunk,
    "/until-close": _until_close,
    "/bad-status-line": _bad_status_line,
    "/early-hints": _early_hints,
    "/switching-protocols": _switching_protocols,
    "/endless-head": _endless_head,
    "/accepted": _accepted,
    "/accepted-then-closed": _accepted_then_closed,
    "/accepted-and-more": _accepted_and_more,
}


class ScriptedHandler(socketserver.BaseRequestHandler):
    """Reads requests on one connection; answers each with the script of its path."""

    def handle(self) -> None:
        self.server.accepted += 1
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    received = self.request.recv(65536)
                    if not received:
                        return
                    buffer += received
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                fields = dict(line.split(": ", 1) for line in lines[1:])
                while len(buffer) < int(fields.get("Content-Length", 0)):
                    buffer += self.request.recv(65536)
                length = int(fields.get("Content-Length", 0))
                body, buffer = buffer[:length], buffer[length:]
                path = lines[0].split(" ")[1]
                self.server.seen.append((lines[0], fields, body))
                if not SCRIPTS[path](self.request):
                    return
        except OSError:  # the client went away
            return


@pytest.fixture
def scripted(settings) -> Iterator[tuple[str, socketserver.ThreadingTCPServer]]:
    """A server answering raw bytes by path (SCRIPTS), allow-listed for the test."""
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    STOP.clear()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ScriptedHandler)
    server.daemon_threads = True
    server.accepted = 0
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    STOP.set()
    server.shutdown()
    server.server_close()


def in_session(coroutine_function, *, loop_factory=None, **options):
    """Run ``coroutine_function(session)`` in a fresh AsyncSession and event loop."""

    async def run():
        async with http_async.AsyncSession(**options) as session:
            return await coroutine_function(session)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run())


def test_async_chunked_body_is_read_and_the_connection_reused(scripted):
    base, server = scripted

    async def twice(session):
        first = await session.fetch(f"{base}/chunked", accept_types=[ACTIVITY_JSON])
        second = await session.fetch(f"{base}/chunked")
        return first, second, session.connections_opened

    first, second, opened = in_session(twice)
    assert first.body == second.body == b'{"type": "Note"}'
    # The same types as the sync client's answers; trailers are not headers.
    assert type(first) is http.Response and type(first.headers) is httpx.Headers
    assert first.media_type == ACTIVITY_JSON and "x-trailer" not in first.headers
    assert opened == 1 and server.accepted == 1


def test_async_body_read_until_the_connection_closes(scripted):
    base, _server = scripted
    assert afetch(f"{base}/until-close").body == b"read until the end"


@pytest.mark.parametrize("path", ["/cut-mid-body", "/cut-mid-chunk"])
def test_async_response_closed_mid_body_is_an_error(scripted, path):
    base, _server = scripted
    with pytest.raises(FetchError, match="closed before the response was complete") as failed:
        afetch(f"{base}{path}")
    assert not isinstance(failed.value, Timeout)
    assert failed.value.url == f"{base}{path}"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bad-status-line", "malformed response"),
        ("/switching-protocols", "unexpected 101 answer"),
        ("/endless-head", "response head exceeds"),
    ],
)
def test_async_malformed_answers_are_errors(scripted, path, reason):
    base, _server = scripted
    with pytest.raises(FetchError, match=reason) as failed:
        afetch(f"{base}{path}", timeout=5)
    assert type(failed.value) is FetchError


def test_async_interim_answer_is_skipped(scripted):
    base, _server = scripted
    response = afetch(f"{base}/early-hints")
    assert (response.status, response.body) == (200, b"ok")
    assert "link" not in response.headers


def test_async_chunked_body_over_max_bytes(scripted):
    base, _server = scripted
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="body exceeds the 1048576-byte limit"):
        afetch(f"{base}/chunked-endless", max_bytes=1024 * 1024)
    assert time.monotonic() - started < 2


def test_async_content_length_over_max_bytes(scripted):
    base, _server = scripted
    with pytest.raises(ResponseTooLarge, match="Content-Length 300000 exceeds"):
        afetch(f"{base}/length-over-limit", max_bytes=100_000)
    assert afetch(f"{base}/length-over-limit", max_bytes=300_000).body == b"x" * 300_000


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "1\r\nInjected: yes"},
        {"X-Evil": "1\nInjected: yes"},
        {"X-Evil": "1\x00"},
        {"X-Evil\r\nInjected": "yes"},
        {"Bad Name": "1"},
        {"Bad:Name": "1"},
        {"": "1"},
        # The body's framing is the client's: a wrong one would desynchronise the stream.
        {"Content-Length": "3"},
        {"Transfer-Encoding": "chunked"},
    ],
)
def test_async_header_injection_is_refused_before_sending(scripted, connections, headers):
    base, server = scripted
    with pytest.raises(FetchError, match="not sent"):
        afetch(f"{base}/accepted", method="POST", body=b"x", headers=headers)
    assert connections == [] and server.seen == []


def test_async_header_from_a_callable_is_checked_too(scripted, connections):
    base, server = scripted

    async def refused(session):
        return await session.fetch(f"{base}/accepted", headers=lambda: {"Date": "x\r\n\r\nGET /"})

    with pytest.raises(FetchError, match="CR, LF, NUL"):
        in_session(refused)
    assert connections == [] and server.seen == []


def test_async_idle_connection_closed_by_the_server_is_not_reused(scripted):
    base, server = scripted

    async def with_a_pause(session):
        first = await session.fetch(f"{base}/accepted-then-closed", method="POST", body=b"1")
        await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
        second = await session.fetch(f"{base}/accepted", method="POST", body=b"2")
        return first.status, second.status, session.connections_opened

    assert in_session(with_a_pause) == (202, 202, 2)
    assert server.accepted == 2
    assert [body for _line, _fields, body in server.seen] == [b"1", b"2"]


def test_async_connection_with_unasked_bytes_is_not_reused(scripted):
    base, server = scripted

    async def twice(session):
        first = await session.fetch(f"{base}/accepted-and-more")
        second = await session.fetch(f"{base}/accepted")
        return first.status, second.status, session.connections_opened

    assert in_session(twice) == (202, 202, 2)
    assert server.accepted == 2


def test_async_request_head_as_written(scripted):
    base, server = scripted
    response = afetch(
        f"{base}/accepted",
        method="POST",
        body=b"payload",
        headers={"content-type": ACTIVITY_JSON, "user-agent": "custom"},
        domain="blois.example",
    )
    assert response.status == 202
    line, fields, body = server.seen[-1]
    assert line == "POST /accepted HTTP/1.1"
    assert next(iter(fields)) == "Host" and fields["Host"] == base.removeprefix("http://")
    # A caller's header replaces the default of the same name, whatever its case.
    assert fields["user-agent"] == "custom" and "User-Agent" not in fields
    assert (fields["Content-Length"], body) == ("7", b"payload")


def test_async_slow_lookups_run_in_parallel(scripted, monkeypatch):
    base, _server = scripted
    port = int(base.rsplit(":", 1)[1])

    def slow(host, port, *args, **kwargs):
        time.sleep(0.3)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", slow)

    async def many(session):
        names = [f"http://slow{i}.example:{port}/accepted" for i in range(12)]
        return await asyncio.gather(*(session.fetch(name) for name in names))

    started = time.monotonic()
    with override_settings(PARVIS_HTTP_ALLOW_PRIVATE=["127.0.0.1/32"]):
        answers = in_session(many, max_concurrency=20)
    # One at a time would take 3.6 s; after a first slow answer, the others get threads.
    assert [answer.status for answer in answers] == [202] * 12
    assert time.monotonic() - started < 2


def test_async_session_on_uvloop(scripted, tls_server, monkeypatch):
    """What the delivery sender runs on: framing, errors and TLS by name."""
    base, _server = scripted
    port, client_context, server_names = tls_server

    async def exchanges(session):
        chunked = await session.fetch(f"{base}/chunked")
        again = await session.fetch(f"{base}/chunked")
        with pytest.raises(FetchError, match="closed before the response was complete"):
            await session.fetch(f"{base}/cut-mid-body")
        secure = await session.fetch(f"https://tls.example:{port}/echo")
        announced = server_names[-1]
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            await session.fetch(f"https://127.0.0.1:{port}/echo")
        return chunked.body, again.body, secure.status, announced

    monkeypatch.setattr(http, "_ssl_context", lambda: client_context)
    resolver = fake_resolver({"tls.example": ["127.0.0.1"]})
    answers = in_session(exchanges, loop_factory=uvloop.new_event_loop, resolver=resolver)
    assert answers == (b'{"type": "Note"}', b'{"type": "Note"}', 200, "tls.example")


# --- URLs split without httpx ---------------------------------------------------------

_URL_PART = st.text(alphabet="aZ09-._~!$&'()*+,;=:@%/?#[] é\t", max_size=12)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]),
    host=st.sampled_from(["ex.com", "h00042.fanout.test", "127.0.0.1", "Ex.com", "a..b", "é.fr"]),
    port=st.sampled_from(["", ":80", ":443", ":8080", ":080", ":65536", ":"]),
    path=st.one_of(_URL_PART, _URL_PART.map(lambda p: "/" + p)),
    query=st.one_of(st.just(""), _URL_PART.map(lambda q: "?" + q)),
)
@hypothesis_settings(max_examples=2000)
def test_plain_urls_split_as_httpx_splits_them(
    scheme: str, host: str, port: str, path: str, query: str
) -> None:
    """The async client's own split of common URLs is what httpx makes of them."""
    url = f"{scheme}://{host}{port}{path}{query}"
    try:
        expected = http_async._from_httpx(http._parse_url(url))
    except http.BlockedDestination:
        expected = None
    if http_async._PLAIN_URL.fullmatch(url) is None:
        return  # httpx decides: nothing of this module's own to check
    assert expected is not None, url
    assert http_async._target(url)[:5] == expected[:5], url


@pytest.mark.parametrize(
    "url",
    [
        "http://h00042.fanout.test:8080/inbox",
        "https://social.example/users/a/inbox?x=1&y=%2F",
        "https://social.example:443/inbox",
        "http://127.0.0.1/x",
    ],
)
def test_common_inbox_urls_take_the_plain_path(url: str) -> None:
    assert http_async._PLAIN_URL.fullmatch(url) is not None
