"""Origins of URLs (RFC 6454), normalised so that equal means the same server.

Most federation checks come down to "is this id on the same server as that actor?"
(checklist S13). A comparison that two spellings of one host fail is an annoyance; one
that two different hosts pass is a forgery: Mastodon's CVE-2023-42451 let an attacker's
``example.com.`` (trailing dot) pass for ``example.com``. So an origin is computed once,
strictly, here:

- the scheme is lower-cased and must be ``http`` or ``https``;
- the host is mapped and encoded by IDNA (UTS #46 mapping, then IDNA 2008 A-labels):
  upper case, fullwidth letters and dots, and Unicode spellings of a punycode name all
  become the one ASCII form, while a look-alike letter from another script stays a
  different name, exactly as DNS will see it; a trailing dot is removed;
- percent-encoded bytes in the host are decoded first, as browsers do;
- an IPv4 host must be written as four decimal numbers, the only spelling every URL
  parser reads alike (``0x7f.1`` or ``2130706433`` are refused); an IPv6 host is
  written in its canonical compressed form, without brackets;
- the default port is made explicit;
- user information (``https://good.example@evil.example``) and backslashes in the
  authority, and spaces and control characters anywhere in the URL, are refused: URL
  parsers disagree on them, and a disagreement between the parser that checks and the
  one that fetches is the attack.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import unquote_to_bytes, urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_PORT = re.compile(r"[0-9]+")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A last label that URL parsers read as a number makes the whole host an IPv4 address
# (WHATWG URL standard: decimal, or hexadecimal after 0x).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_DOTTED_QUAD = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")


class InvalidOrigin(ValueError):
    """A URL that has no usable origin; the message says why."""


def origin(url: str) -> Origin:
    """``(scheme, host, port)`` of ``url``, normalised; :class:`InvalidOrigin` otherwise.

    Only ``http`` and ``https`` URLs with a host and no user information have an origin
    here. The host is ASCII (IDNA A-labels), lower-case, without a trailing dot; an IPv6
    host has no brackets; the port is always given.
    """
    if not isinstance(url, str):
        raise InvalidOrigin(f"{url!r} is not a string")
    if _FORBIDDEN.search(url):
        raise InvalidOrigin(f"{url!r} contains spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise InvalidOrigin(f"{url!r} is not a URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin(f"{url!r} is not an http or https URL")
    authority = parts.netloc
    if "@" in authority:
        raise InvalidOrigin(f"{url!r} carries user information")
    if "\\" in authority:
        # Browsers read a backslash as a slash: "https://evil.example\@good.example"
        # is evil.example to them and good.example to urllib.
        raise InvalidOrigin(f"{url!r} has a backslash in its host")
    host, port = _split_authority(authority, url)
    return scheme, host, _port(port, scheme, url)


def same_origin(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` have the same origin; False when either has none."""
    try:
        return origin(a) == origin(b)
    except InvalidOrigin:
        return False


def host_of(url: str) -> str:
    """The normalised host of ``url`` (see :func:`origin`); :class:`InvalidOrigin` otherwise."""
    return origin(url)[1]


def _split_authority(authority: str, url: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        literal, bracket, rest = authority[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidOrigin(f"{url!r} has a malformed IPv6 host")
        return _ipv6(literal, url), rest[1:] if rest else None
    host, colon, port = authority.partition(":")
    return normalise_host(host, url), port if colon else None


def _ipv6(literal: str, url: str) -> str:
    # Zone identifiers ("%25eth0") name an interface of the local machine: not a server.
    if "%" in literal:
        raise InvalidOrigin(f"{url!r} has a zone identifier in its IPv6 host")
    try:
        return ipaddress.IPv6Address(literal).compressed
    except ValueError:
        raise InvalidOrigin(f"{url!r} has an invalid IPv6 host") from None


def _port(port: str | None, scheme: str, url: str) -> int:
    if not port:
        # RFC 3986 §6.2.3: an empty port is the default one.
        return DEFAULT_PORTS[scheme]
    # Only ASCII digits: int() would also read "٤٤٣" or "+443".
    digits = port.lstrip("0")
    if not _PORT.fullmatch(port) or not digits or len(digits) > 5 or int(digits) > 65535:
        raise InvalidOrigin(f"{url!r} has an invalid port {port!r}")
    return int(digits)


def normalise_host(host: str, url: str | None = None) -> str:
    """``host`` as :func:`origin` writes it; :class:`InvalidOrigin` when it is not a host.

    ``url`` only names the URL in the error message.
    """
    where = repr(url) if url is not None else repr(host)
    if _PERCENT.search(host):
        raise InvalidOrigin(f"{where} has a stray % in its host")
    try:
        decoded = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidOrigin(f"{where} has percent-encoded bytes that are not UTF-8") from None
    try:
        return _idna_host(decoded)
    except (idna.IDNAError, UnicodeError) as error:
        raise InvalidOrigin(f"{where} has an invalid host ({error})") from None
    except ValueError as error:
        raise InvalidOrigin(f"{where} {error}") from None


@functools.lru_cache(maxsize=4096)
def _idna_host(host: str) -> str:
    # Cached: a busy inbox compares the same few thousand hosts again and again, and
    # IDNA is pure Python.
    if not host:
        raise ValueError("has an empty host")
    # uts46 maps (lower case, fullwidth forms, "。" to ".") before IDNA 2008 validates;
    # std3_rules refuses "_", "*", "/", ":"… which no DNS host name holds.
    encoded = idna.encode(host, uts46=True, std3_rules=True, transitional=False).decode("ascii")
    name = encoded.removesuffix(".")
    if not name or name.endswith("."):
        raise ValueError("has an empty host")
    numeric = _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1])
    if numeric and not (_DOTTED_QUAD.fullmatch(name) and _is_ipv4(name)):
        raise ValueError(f"has an ambiguous numeric host {name!r}")
    return name


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
