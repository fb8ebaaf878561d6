"""Origins of URLs (checklist S13): host spoofing through case, trailing dots, ports,
user information, backslashes, percent-encoding, IP spellings and IDNA homographs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parvis.federation.origins import (
    DEFAULT_PORTS,
    InvalidOrigin,
    host_of,
    normalise_host,
    origin,
    same_origin,
)

GOOD = ("https", "good.example", 443)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://good.example", GOOD),
        ("https://good.example/path?q=1#frag", GOOD),
        ("HTTPS://GOOD.EXAMPLE/", GOOD),
        ("hTtPs://GoOd.ExAmPlE", GOOD),
        ("https://good.example./", GOOD),
        ("https://good.example:443/", GOOD),
        ("https://good.example:0443/", GOOD),
        ("https://good.example:/", GOOD),  # RFC 3986 §6.2.3: empty port is the default
        ("https://good.example:" + "0" * 5000 + "443", GOOD),
        ("https://good.example/\\evil.example", GOOD),  # a backslash in the path is path
        ("http://good.example", ("http", "good.example", 80)),
        ("http://good.example:443", ("http", "good.example", 443)),
        ("https://good.example:8443", ("https", "good.example", 8443)),
        ("https://good.example:65535", ("https", "good.example", 65535)),
        # Percent-encoded host bytes are decoded, as browsers do.
        ("https://%67ood.example/", GOOD),
        ("https://good%2Eexample/", GOOD),
        ("https://%C3%BCber.example/", ("https", "xn--ber-goa.example", 443)),
        # IDNA: Unicode and punycode spellings of one name are one host.
        ("https://bücher.example/", ("https", "xn--bcher-kva.example", 443)),
        ("https://BÜCHER.example/", ("https", "xn--bcher-kva.example", 443)),
        ("https://xn--bcher-kva.example/", ("https", "xn--bcher-kva.example", 443)),
        ("https://XN--BCHER-KVA.EXAMPLE./", ("https", "xn--bcher-kva.example", 443)),
        # UTS #46 maps fullwidth letters, digits and dots to ASCII.
        ("https://ｇｏｏｄ．ｅｘａｍｐｌｅ/", GOOD),
        ("https://good。example/", GOOD),
        ("https://ＧＯＯＤ.example/", GOOD),
        # Non-transitional processing: ß stays ß (DNS and browsers since 2017 agree).
        ("https://faß.example/", ("https", "xn--fa-hia.example", 443)),
        # IP literals.
        ("https://127.0.0.1/", ("https", "127.0.0.1", 443)),
        ("https://１２７.0.0.1/", ("https", "127.0.0.1", 443)),
        ("https://[2001:DB8::1]:8443/", ("https", "2001:db8::1", 8443)),
        ("https://[2001:db8:0:0:0:0:0:1]/", ("https", "2001:db8::1", 443)),
        ("http://[::1]", ("http", "::1", 80)),
    ],
)
def test_origin_normalises(url: str, expected: tuple[str, str, int]) -> None:
    assert origin(url) == expected
    assert host_of(url) == expected[1]


@pytest.mark.parametrize(
    "url",
    [
        # User information: "good.example" is a user name there, the host is evil.
        "https://evil@good.example",
        "https://good.example@evil.example",
        "https://good.example:443@evil.example",
        "https://user:pass@good.example",
        "https://@good.example",
        "https://good.example%40evil.example",
        # Backslashes: browsers read "\" as "/", urllib as part of the authority.
        "https://evil.example\\@good.example",
        "https://good.example\\.evil.example/",
        "https:\\\\good.example/",
        "https:/\\good.example/",
        # Schemes other than http and https, and no scheme.
        "ftp://good.example/",
        "javascript:alert(1)//good.example",
        "data:text/html,good.example",
        "wss://good.example/",
        "//good.example/",
        "good.example",
        "/path",
        "",
        # No host, or no "//" before it.
        "https://",
        "https:///good.example",
        "https:good.example",
        "https://:443/",
        # Ports.
        "https://good.example:0",
        "https://good.example:65536",
        "https://good.example:99999999999999999999",
        "https://good.example:-1",
        "https://good.example:+443",
        "https://good.example:443x",
        "https://good.example:٤٤٣",
        "https://good.example:80:80",
        "https://good.example：443/",
        # Names that are not DNS host names, or not valid IDNA.
        "https://good..example/",
        "https://.good.example/",
        "https://good.example../",
        "https://-good.example/",
        "https://good-.example/",
        "https://good_example.com/",
        "https://xn--.example/",
        "https://xn--a.example/",
        "https://xn--bcher-kva-.example/",
        "https://☃.example/",
        "https://good.example%2f.evil.example/",
        "https://good.example%2F@evil.example/",
        "https://%zz.example/",
        "https://%c3.example/",
        "https://good%00.example/",
        "https://a%20b.example/",
        "https://" + "a" * 64 + ".example/",
        "https://" + "a." * 127 + "example/",
        # Spaces and control characters anywhere.
        " https://good.example/",
        "https://good.example/\n",
        "https://goo\td.example/",
        "https://good.example\x00.evil.example/",
        "https://good.example\u0085/",
        # IPv4 spellings that URL parsers read differently.
        "https://0x7f.0.0.1/",
        "https://0x7f000001/",
        "https://2130706433/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://127.000.000.001/",
        "https://1.2.3.4.5/",
        "https://256.0.0.1/",
        "https://good.example.123/",
        "https://good.0x1/",
        "https://good.0x/",
        # IPv6 literals: zone identifiers, unclosed, future formats, junk after.
        "https://[fe80::1%25eth0]/",
        "https://[::1/",
        "https://[v1.abc]/",
        "https://[::1]x/",
        "https://[good.example]/",
        "https://[::1]:99999/",
    ],
)
def test_origin_refuses(url: str) -> None:
    with pytest.raises(InvalidOrigin):
        origin(url)
    assert same_origin(url, url) is False
    assert same_origin(url, "https://good.example/") is False


@pytest.mark.parametrize("value", [None, 443, b"https://good.example/", ["https://good.example"]])
def test_non_strings_have_no_origin(value: Any) -> None:
    with pytest.raises(InvalidOrigin):
        origin(value)
    assert same_origin(value, "https://good.example/") is False


def test_invalid_origin_is_a_value_error_with_the_reason() -> None:
    with pytest.raises(ValueError, match="user information"):
        origin("https://good.example@evil.example/")
    with pytest.raises(ValueError, match="port"):
        origin("https://good.example:70000/")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://good.example/users/a", "https://GOOD.example./inbox", True),
        ("https://good.example/", "https://good.example:443/", True),
        ("http://good.example/", "http://good.example:80/", True),
        ("https://good.example/", "http://good.example/", False),
        ("https://good.example/", "https://good.example:8443/", False),
        ("http://good.example:443/", "https://good.example/", False),
        ("https://good.example/", "https://www.good.example/", False),
        ("https://good.example/", "https://good.example.evil.example/", False),
        ("https://bücher.example/", "https://xn--bcher-kva.example/", True),
        ("https://bücher.example/", "https://bucher.example/", False),
        ("https://faß.example/", "https://fass.example/", False),
        ("https://ｇｏｏｄ.example/", "https://good.example/", True),
        # Cyrillic "о" (U+043E) and Greek "ο" (U+03BF) look like the Latin "o".
        ("https://gооd.example/", "https://good.example/", False),
        ("https://goοd.example/", "https://good.example/", False),
        ("https://gооd.example/", "https://xn--gd-fmca.example/", True),
        # Cyrillic "а" (U+0430) throughout: a whole-script homograph.
        ("https://раураl.example/", "https://paypal.example/", False),
        ("https://[::1]/", "https://[0:0:0:0:0:0:0:1]:443/", True),
        ("https://127.0.0.1/", "https://2130706433/", False),
        ("https://evil@good.example/", "https://good.example/", False),
        ("https://good.example@evil.example/", "https://evil.example/", False),
        ("not a url", "not a url", False),
    ],
)
def test_same_origin(a: str, b: str, same: bool) -> None:
    assert same_origin(a, b) is same
    assert same_origin(b, a) is same


def test_cve_2023_42451_trailing_dot_does_not_make_another_host() -> None:
    # Mastodon normalised "example.com." and "example.com" differently in different
    # places, which let an attacker's documents pass for another domain's. Here there is
    # one normalisation: a trailing dot names the same host, and nothing else does.
    assert host_of("https://good.example./users/a") == "good.example"
    assert same_origin("https://good.example./users/a", "https://good.example/inbox")
    assert not same_origin("https://good.example.evil.example/", "https://good.example/")
    with pytest.raises(InvalidOrigin):
        host_of("https://good.example../")


def test_normalise_host_names_the_url_in_its_errors() -> None:
    assert normalise_host("Bücher.Example.") == "xn--bcher-kva.example"
    with pytest.raises(InvalidOrigin, match=r"https://bad_host\.example/"):
        normalise_host("bad_host.example", "https://bad_host.example/")


# --- Properties ---------------------------------------------------------------------------

# Letters that IDNA accepts, look-alikes from other scripts, and fullwidth forms.
LABEL_ALPHABET = "abcdefopqxyz0129-éüßöçαοаорсеΑＡａｏ"
HOMOGLYPHS = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у"}

labels = st.text(LABEL_ALPHABET, min_size=1, max_size=12)
hosts = st.lists(labels, min_size=1, max_size=3).map(lambda parts: ".".join([*parts, "example"]))
schemes = st.sampled_from(["http", "https", "HTTP", "Https"])
ports = st.none() | st.integers(min_value=1, max_value=65535)
paths = st.sampled_from(["", "/", "/users/a", "/a?b=c#d", "/\\x"])


def url_of(scheme: str, host: str, port: int | None, path: str = "/") -> str:
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "") + path


@st.composite
def valid_urls(draw: st.DrawFn) -> str:
    url = url_of(draw(schemes), draw(hosts), draw(ports), draw(paths))
    try:
        origin(url)
    except InvalidOrigin:
        assume(False)
    return url


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(valid_urls())
def test_normalisation_is_idempotent(url: str) -> None:
    scheme, host, port = origin(url)
    assert normalise_host(host) == host
    assert host.isascii() and host == host.lower() and not host.endswith(".")
    assert origin(url_of(scheme, host, port)) == (scheme, host, port)
    assert origin(url_of(scheme, host, None)) == (scheme, host, DEFAULT_PORTS[scheme])


@PROPERTY
@given(valid_urls(), valid_urls())
def test_same_origin_is_reflexive_and_symmetric_and_means_equal_origins(a: str, b: str) -> None:
    assert same_origin(a, a)
    assert same_origin(a, b) == same_origin(b, a) == (origin(a) == origin(b))


@PROPERTY
@given(valid_urls(), st.integers(min_value=1, max_value=65535), st.sampled_from("qz7"))
def test_changing_scheme_host_or_port_changes_the_origin(url: str, port: int, extra: str) -> None:
    scheme, host, own_port = origin(url)
    other_scheme = "http" if scheme == "https" else "https"
    assert not same_origin(url, url_of(other_scheme, host, own_port))
    if port != own_port:
        assert not same_origin(url, url_of(scheme, host, port))
    if ":" not in host:
        first, _, rest = url.partition("://")
        longer = f"{first}://{extra}{rest}"
        assert not same_origin(url, longer)


@PROPERTY
@given(st.text("abcdeopxy", min_size=1, max_size=10), st.data())
def test_homographs_differ_and_fullwidth_forms_do_not(name: str, data: st.DataObject) -> None:
    url = f"https://{name}.example/"
    index = data.draw(st.integers(min_value=0, max_value=len(name) - 1))
    letter = name[index]
    fullwidth = name[:index] + chr(ord(letter) + 0xFEE0) + name[index + 1 :]
    assert same_origin(url, f"https://{fullwidth}.example/")
    if letter in HOMOGLYPHS:
        lookalike = name[:index] + HOMOGLYPHS[letter] + name[index + 1 :]
        assert host_of(f"https://{lookalike}.example/") != host_of(url)
        assert not same_origin(url, f"https://{lookalike}.example/")


@PROPERTY
@given(
    st.sampled_from(["https://", "http://", "HTTPS://", "", "https:"]),
    st.text("ab.:@\\/[]%0-9é？＠．\t\x00 #?", max_size=30),
    st.text("ab.:@\\/[]%0-9é？＠．\t\x00 #?", max_size=30),
)
def test_same_origin_never_raises(prefix: str, a: str, b: str) -> None:
    assert same_origin(prefix + a, prefix + b) in (True, False)


@PROPERTY
@given(valid_urls())
def test_the_http_client_connects_to_the_host_that_was_checked(url: str) -> None:
    # The origin check and the fetch must read one host from one URL: where httpx
    # accepts the URL at all, the host it resolves normalises to the checked one.
    assume("%" not in url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return  # refused by the fetcher too: nothing is fetched
    host = parsed.raw_host.decode("ascii")
    if ":" in host:
        assert ipaddress.IPv6Address(host).compressed == host_of(url)
    else:
        assert normalise_host(host) == host_of(url)
    assert (parsed.port or DEFAULT_PORTS[parsed.scheme]) == origin(url)[2]
