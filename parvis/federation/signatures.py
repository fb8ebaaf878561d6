"""HTTP request signatures for federation: draft-cavage (Mastodon style) and RFC 9421.

Pure functions: no models, no network, no settings. The caller supplies the request
parts (method, absolute URL, headers, raw body bytes) and, to verify, a
``key_resolver(key_id)`` that returns the sender's public key (it fetches and caches
actor documents; this module never does I/O itself).

Who does what
-------------
* **draft-cavage** (``Signature: keyId=…,algorithm=…,headers=…,signature=…``) is
  implemented here, both ways: the parameter parser, the signing string and the
  RSA/Ed25519 operations (``cryptography``). No maintained Python library signs and
  verifies the draft the way Mastodon does, and the format is small.
* **RFC 9421** signing uses ``http_message_signatures.HTTPMessageSigner`` through a
  tiny request shim (``_RequestShim``: method, URL, header dict), because the library
  reads those three attributes from a message object. The library computes
  ``Content-Digest`` (RFC 9530), the signature base and the ``Signature-Input`` /
  ``Signature`` fields.
* **RFC 9421** verification is split. This module parses ``Signature-Input``,
  ``Signature`` and ``Content-Digest`` with ``http_sf`` (the RFC 8941/9651 parser the
  library itself depends on) and applies Parvis's policy: which components must be
  covered, ``created``/``expires`` against an injectable clock, digest against the
  body, algorithm against key type. Only then does it hand the one selected
  signature to ``http_message_signatures.HTTPMessageVerifier`` for the signature
  base and the cryptographic check, with the library's own clock check switched
  off (``_PolicyCheckedVerifier``) because ours, with a fixed ``now``, already ran.
  Policy stays here so each failure gets its own exception class and message.

Policy (checklist rows S4–S7)
-----------------------------
* Scheme: RFC 9421 when ``Signature-Input`` is present, else draft-cavage. There is
  no fallback from a broken RFC 9421 signature to a draft-cavage one (no downgrade).
  Only the first label of ``Signature-Input`` is verified, so a request cannot make
  us resolve many keys.
* draft-cavage must cover ``(request-target)``, ``host``, ``date`` or ``(created)``,
  and ``digest`` when there is a body; the covered ``Host`` must name the request
  URL's authority. RFC 9421 must cover ``@method``, ``@target-uri`` (or
  ``@authority`` with ``@request-target``, or with ``@path`` and, when the URL has a
  query, ``@query``) and ``content-digest`` when there is a body; it must carry
  ``created`` (as Mastodon requires).
* ``Date`` and ``created`` must lie within ``max_skew`` seconds of ``now`` on either
  side; ``expires`` must not be past.
* Every digest header present (``Digest`` and/or ``Content-Digest``) must match the
  body, whichever scheme signed the request: a request never carries two different
  claims about its body. Repeated digest headers or algorithms are refused, and so is
  a digest header that only offers algorithms we do not know (SHA-256 and SHA-512
  are known).
* ``hs2019`` (and an absent ``algorithm``) means "whatever the key is", as Mastodon
  reads it: RSA keys verify with RSASSA-PKCS1-v1_5 + SHA-256 (not RSA-PSS), Ed25519
  keys with Ed25519 (FEP-521a keys). ``(created)``/``(expires)`` are only allowed
  with ``hs2019``/``ed25519``, per draft-cavage-12 and Mastodon.
* RSA keys under ``MIN_RSA_KEY_BITS`` (2048) are refused (``min_rsa_bits`` overrides).
* Not reproduced from Mastodon: its temporary fallback that also accepts a
  ``(request-target)`` signed without the query string, and its 12-hour window.
* draft-cavage does not sign the scheme (only ``Host``): a signature
  made for ``https://h/p`` also verifies for ``http://h/p``; RFC 9421 ``@target-uri``
  binds it.
* The key is resolved last, after every check that needs no key, so garbage never
  triggers a key fetch.

Errors: every rejection is a ``SignatureError`` subclass whose message names the
problem. ``MalformedSignature`` (``http_status`` 400) means a header could not be
parsed; all others carry ``http_status`` 401.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal, TypeAlias
from urllib.parse import SplitResult, urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.utils.http import parse_http_date
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
)
from http_message_signatures.algorithms import ED25519, RSA_V1_5_SHA256, HTTPSignatureAlgorithm

__all__ = [
    "MIN_RSA_KEY_BITS",
    "RFC9421_LABEL",
    "BadSignature",
    "DigestError",
    "DigestMismatch",
    "DuplicateDigest",
    "ExpiredSignature",
    "FutureSignature",
    "HostMismatch",
    "MalformedSignature",
    "MissingComponents",
    "MissingDigest",
    "MissingSignature",
    "SignatureError",
    "SignatureTimeError",
    "StaleSignature",
    "UnknownKey",
    "UnparsableDate",
    "UnsupportedAlgorithm",
    "UnsupportedDigestAlgorithm",
    "VerifiedSignature",
    "generate_ed25519_key",
    "generate_rsa_key",
    "load_private_pem",
    "load_public_pem",
    "private_pem_encrypted",
    "public_pem",
    "sign_cavage",
    "sign_rfc9421",
    "verify",
]

PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
#: A mapping (Django's ``request.headers``, a dict, values may be lists of field
#: lines) or an iterable of ``(name, value)`` field lines; bytes values are Latin-1.
Headers: TypeAlias = (
    Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str | bytes]]
)
#: Returns the key for a key id, PEM text of it, or None when there is no such key.
KeyResolver: TypeAlias = Callable[[str], "PublicKey | str | bytes | None"]
Scheme: TypeAlias = Literal["rfc9421", "cavage"]

MIN_RSA_KEY_BITS = 2048
RFC9421_LABEL = "sig1"
DEFAULT_MAX_SKEW = 300

_RFC9421_ALGORITHMS: dict[str, type[HTTPSignatureAlgorithm]] = {
    "rsa-v1_5-sha256": RSA_V1_5_SHA256,
    "ed25519": ED25519,
}
_CAVAGE_ALGORITHMS = frozenset({"rsa-sha256", "hs2019", "ed25519"})
_DIGESTS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}
_RFC9421_PARAMS = frozenset({"created", "expires", "keyid", "alg", "nonce", "tag"})


# --------------------------------------------------------------------------- errors


class SignatureError(Exception):
    """A request signature was refused. The inbox answers ``http_status``."""

    http_status = 401


class MissingSignature(SignatureError):
    """Neither ``Signature-Input`` nor ``Signature`` is present."""


class MalformedSignature(SignatureError):
    """A signature or digest header (or structured field) cannot be parsed."""

    http_status = 400


class UnsupportedAlgorithm(SignatureError):
    """The algorithm is unknown, does not fit the key, or the key is too weak."""


class MissingComponents(SignatureError):
    """The signature leaves out a component Parvis requires it to cover."""


class HostMismatch(SignatureError):
    """The signed ``Host`` is not the authority of the URL the request reached."""


class DigestError(SignatureError):
    """Base for body digest problems."""


class MissingDigest(DigestError):
    """There is a body but no digest header to bind it to the signature."""


class DigestMismatch(DigestError):
    """A digest header does not match the body."""


class DuplicateDigest(DigestError):
    """A digest header or a digest algorithm appears more than once."""


class UnsupportedDigestAlgorithm(DigestError):
    """A digest header offers only algorithms Parvis does not know."""


class SignatureTimeError(SignatureError):
    """Base for ``Date``/``created``/``expires`` problems."""


class UnparsableDate(SignatureTimeError):
    """``Date``, ``created`` or ``expires`` is not a valid time."""


class StaleSignature(SignatureTimeError):
    """``Date`` or ``created`` is older than the accepted window."""


class FutureSignature(SignatureTimeError):
    """``Date`` or ``created`` is further in the future than the accepted window."""


class ExpiredSignature(SignatureTimeError):
    """``expires`` has passed."""


class UnknownKey(SignatureError):
    """The key resolver has no key for this key id."""


class BadSignature(SignatureError):
    """The signature does not verify over this request with the sender's key."""


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a successful :func:`verify` proved: ``key_id`` signed this request."""

    key_id: str
    scheme: Scheme
    #: ``rsa-sha256``/``hs2019``/``ed25519`` (cavage) or ``rsa-v1_5-sha256``/``ed25519``.
    algorithm: str = ""
    #: Covered components, as named in the signature.
    covered: tuple[str, ...] = ()
    #: Unix time of ``created`` (or of ``Date`` for draft-cavage without it).
    created: int | None = None


# ------------------------------------------------------------------------------ keys


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """A new 2048-bit RSA key (e = 65537), the size every Fediverse server accepts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """A new Ed25519 key (FEP-521a ``assertionMethod`` keys)."""
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey | PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of ``key`` (``publicKeyPem`` in actor documents)."""
    public = (
        key.public_key() if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) else key
    )
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str | bytes) -> PublicKey:
    """Parse a remote ``publicKeyPem`` (SPKI, or PKCS#1 ``RSA PUBLIC KEY``).

    Raises ``ValueError`` for anything but an RSA or Ed25519 public key: other key
    types are not accepted for federation.
    """
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except _CryptoUnsupportedAlgorithm as exc:
        raise ValueError(f"unsupported public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported public key type {type(key).__name__}")
    return key


def private_pem_encrypted(key: PrivateKey, passphrase: bytes) -> str:
    """PKCS#8 PEM encrypted with ``passphrase`` (``BestAvailableEncryption``), for storage."""
    if not passphrase:
        # An empty passphrase would silently store the key in clear.
        raise ValueError("a non-empty passphrase is required to store a private key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ).decode("ascii")


def load_private_pem(pem: str | bytes, passphrase: bytes | None) -> PrivateKey:
    """Decrypt a PEM made by :func:`private_pem_encrypted`; ``ValueError`` if wrong."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, passphrase)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


# --------------------------------------------------------------------------- helpers


def _field_lines(headers: Headers) -> dict[str, list[str]]:
    """Lower-cased name -> field lines in order, so duplicates stay visible."""
    items: Iterable[tuple[str, Any]] = headers.items() if isinstance(headers, Mapping) else headers
    lines: dict[str, list[str]] = {}
    for name, value in items:
        values = [value] if isinstance(value, str | bytes) else list(value)
        for one in values:
            # Header bytes are Latin-1 text to HTTP servers (WSGI, ASGI) as well.
            text = one.decode("latin-1") if isinstance(one, bytes) else str(one)
            # RFC 9110 5.5: surrounding whitespace is not part of the field value.
            lines.setdefault(name.strip().lower(), []).append(text.strip(" \t"))
    return lines


def _combined(fields: Mapping[str, list[str]], name: str) -> str | None:
    """One field's value, field lines joined with ", " (RFC 9110 5.3), or None."""
    values = fields.get(name)
    if not values:
        return None
    value = ", ".join(values)
    # A line break inside a value could forge extra lines of a signing string.
    if any(char in value for char in "\r\n\x00"):
        raise MalformedSignature(f"header {name!r} contains a line break or NUL")
    return value


def _single(fields: Mapping[str, list[str]], name: str, label: str) -> str | None:
    """A header that must appear at most once (joined duplicates would be ambiguous)."""
    values = fields.get(name)
    if values and len(values) > 1:
        raise MalformedSignature(f"{label} header appears {len(values)} times")
    return _combined(fields, name)


# Signing splits the URL twice (host, request target): the second split is remembered.
@functools.lru_cache(maxsize=256)
def _split_url(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise MalformedSignature(f"request URL {url!r} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MalformedSignature(f"request URL {url!r} is not an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise MalformedSignature("request URL must not carry user information")
    return parts


def _normalised_authority(scheme: str, host: str, port: int | None) -> str:
    host = host.lower()
    if ":" in host:  # IPv6 literal, brackets were stripped by urlsplit
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return host if port in (None, default) else f"{host}:{port}"


def _authority(url: str) -> str:
    """``host[:port]`` as the Host header carries it, default port left out."""
    parts = _split_url(url)
    return _normalised_authority(parts.scheme, parts.hostname or "", parts.port)


def _host_header_matches(value: str, url: str) -> bool:
    parts = _split_url(url)
    expected = _normalised_authority(parts.scheme, parts.hostname or "", parts.port)
    received = value.strip().lower()
    default = ":443" if parts.scheme == "https" else ":80"
    if received.endswith(default):
        received = received[: -len(default)]
    return received == expected


def _request_target(method: str, url: str) -> str:
    parts = _split_url(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return f"{method.lower()} {target}"


def _timestamp(now: datetime | None) -> int:
    if now is None:
        return int(datetime.now(UTC).timestamp())
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def _skew_seconds(max_skew: float | timedelta) -> float:
    return max_skew.total_seconds() if isinstance(max_skew, timedelta) else float(max_skew)


def _check_window(what: str, when: int, now: int, skew: float) -> None:
    if when < now - skew:
        raise StaleSignature(f"{what} is {now - when} s old, more than the {skew:g} s allowed")
    if when > now + skew:
        raise FutureSignature(f"{what} is {when - now} s in the future, over {skew:g} s")


def _check_expires(expires: int | None, now: int) -> None:
    if expires is not None and expires < now:
        raise ExpiredSignature(f"signature expired {now - expires} s ago")


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature(f"{what} is not valid base64") from exc


def _encode_signing_string(text: str) -> bytes:
    # Servers decode header bytes as Latin-1 (WSGI); re-encoding gives back the
    # octets the sender signed. Text that is not Latin-1 came from UTF-8 input.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


# --------------------------------------------------------------------------- digests


def _check_legacy_digest(value: str, body: bytes) -> None:
    """RFC 3230 ``Digest: SHA-256=<base64>[, alg=value]…``."""
    seen: set[str] = set()
    known = 0
    for entry in value.split(","):
        algorithm, sep, encoded = entry.strip().partition("=")
        algorithm = algorithm.strip().lower()
        if not sep or not algorithm or not encoded:
            raise MalformedSignature(f"Digest entry {entry.strip()!r} is not alg=value")
        if algorithm in seen:
            raise DuplicateDigest(f"Digest lists {algorithm} more than once")
        seen.add(algorithm)
        hasher = _DIGESTS.get(algorithm)
        if hasher is None:
            continue  # RFC 3230 lets senders add algorithms we may ignore.
        known += 1
        claimed = _b64decode(encoded, f"Digest {algorithm} value")
        actual = hasher(body).digest()
        if len(claimed) != len(actual):
            raise MalformedSignature(f"Digest {algorithm} value has the wrong length")
        if not hmac.compare_digest(claimed, actual):
            raise DigestMismatch(f"Digest {algorithm} does not match the body")
    if not known:
        raise UnsupportedDigestAlgorithm(
            f"Digest offers only {', '.join(sorted(seen))}; SHA-256 or SHA-512 is required"
        )


def _reject_duplicate_key(key: str, context: str) -> None:
    # RFC 8941 would keep the last duplicate; an attacker could hide a second
    # value behind the one a proxy or logger reads, so refuse instead.
    if context == "dictionary":
        raise _DuplicateKey(key)
    raise MalformedSignature(f"duplicate parameter {key!r}")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _parse_sf_dictionary(value: str, what: str) -> dict[str, Any]:
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_duplicate_key
        )
    except _DuplicateKey as dup:
        if what == "Content-Digest":
            raise DuplicateDigest(f"Content-Digest lists {dup.key} more than once") from None
        raise MalformedSignature(f"{what} repeats the member {dup.key!r}") from None
    except (UnicodeEncodeError, ValueError) as exc:
        # http_sf.StructuredFieldError is a ValueError.
        raise MalformedSignature(f"{what} is not a valid structured field: {exc}") from exc
    if not isinstance(parsed, dict):  # pragma: no cover - tltype guarantees it
        raise MalformedSignature(f"{what} is not a dictionary")
    return parsed


def _check_content_digest(value: str, body: bytes) -> None:
    """RFC 9530 ``Content-Digest: sha-256=:<base64>:``."""
    members = _parse_sf_dictionary(value, "Content-Digest")
    if not members:
        raise MalformedSignature("Content-Digest is empty")
    known = 0
    for algorithm, member in members.items():
        claimed = member[0] if isinstance(member, tuple) else member
        if not isinstance(claimed, bytes):
            raise MalformedSignature(f"Content-Digest {algorithm} is not a byte sequence")
        hasher = _DIGESTS.get(algorithm)
        if hasher is None:
            continue
        known += 1
        actual = hasher(body).digest()
        if len(claimed) != len(actual):
            raise MalformedSignature(f"Content-Digest {algorithm} has the wrong length")
        if not hmac.compare_digest(claimed, actual):
            raise DigestMismatch(f"Content-Digest {algorithm} does not match the body")
    if not known:
        raise UnsupportedDigestAlgorithm(
            f"Content-Digest offers only {', '.join(sorted(members))}; sha-256 or sha-512 "
            "is required"
        )


def _check_digests(
    fields: Mapping[str, list[str]],
    body: bytes | None,
    required: Literal["digest", "content-digest"] | None,
) -> None:
    """Every digest header present must match; ``required`` must be present."""
    data = body or b""
    for name, check in (
        ("digest", _check_legacy_digest),
        ("content-digest", _check_content_digest),
    ):
        lines = fields.get(name)
        if not lines:
            continue
        if len(lines) > 1:
            raise DuplicateDigest(f"{name} header appears {len(lines)} times")
        value = _combined(fields, name)
        assert value is not None
        check(value, data)
    if required is not None and not fields.get(required):
        raise MissingDigest(f"the request has a body but no {required} header")


# ---------------------------------------------------------------------- key handling


def _resolve_key(key_resolver: KeyResolver, key_id: str) -> PublicKey:
    # Resolver exceptions propagate on purpose: a network failure is not a bad
    # signature, and the inbox may defer the request instead (checklist N5).
    found = key_resolver(key_id)
    if found is None:
        raise UnknownKey(f"no public key for key id {key_id!r}")
    if isinstance(found, str | bytes):
        try:
            return load_public_pem(found)
        except ValueError as exc:
            raise UnsupportedAlgorithm(f"key {key_id!r} is not an RSA or Ed25519 key") from exc
    if not isinstance(found, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise UnsupportedAlgorithm(f"key {key_id!r} is a {type(found).__name__}")
    return found


def _check_key_strength(key: PublicKey, min_rsa_bits: int) -> None:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < min_rsa_bits:
        raise UnsupportedAlgorithm(
            f"RSA key of {key.key_size} bits is under the {min_rsa_bits}-bit minimum"
        )


# A fan-out signs the same body for thousands of inboxes within the same few seconds.
@functools.lru_cache(maxsize=4)
def _http_date(timestamp: int) -> str:
    """The IMF-fixdate of a Unix time, as the Date header carries it."""
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)


@functools.lru_cache(maxsize=16)
def _sha256_digest(body: bytes) -> str:
    """The ``Digest`` header value of ``body`` (RFC 3230)."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def _sign_bytes(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    raise TypeError(f"unsupported private key type {type(private_key).__name__}")


# ----------------------------------------------------------------------- draft-cavage

_CAVAGE_PARAM = re.compile(
    r'([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(?:"((?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*)"|([0-9]+))'
)
_OWS = re.compile(r"[ \t]*")
_QUOTED_PAIR = re.compile(r"\\(.)")
_UNIX_TIME = re.compile(r"[0-9]{1,12}")


def _parse_cavage(value: str) -> dict[str, str]:
    """``name="quoted",name=123`` parameters; duplicates and stray text are refused."""
    params: dict[str, str] = {}
    position = _OWS.match(value, 0).end()  # type: ignore[union-attr]
    while True:
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise MalformedSignature(f"Signature header cannot be parsed at character {position}")
        name = match[1]
        if name in params:
            raise MalformedSignature(f"Signature header repeats the parameter {name!r}")
        params[name] = _QUOTED_PAIR.sub(r"\1", match[2]) if match[2] is not None else match[3]
        position = _OWS.match(value, match.end()).end()  # type: ignore[union-attr]
        if position == len(value):
            return params
        if value[position] != ",":
            raise MalformedSignature(f"Signature header has stray text at character {position}")
        position = _OWS.match(value, position + 1).end()  # type: ignore[union-attr]


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    # ASCII digits only: str.isdigit() would let "²" through to int() and crash.
    if not _UNIX_TIME.fullmatch(raw):
        raise UnparsableDate(f"{name} parameter {raw!r} is not a Unix time")
    return int(raw)


def sign_cavage(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key_id: str,
    private_key: PrivateKey,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers to add to sign a request the way Mastodon does (draft-cavage-12).

    Covers ``(request-target) host date`` plus ``digest`` when ``body`` is not None.
    Returns ``Date`` (only when ``headers`` has none), ``Host``, ``Digest`` (bodies)
    and ``Signature``; returned values replace any of the same name. RSA keys sign
    with ``algorithm="rsa-sha256"`` (PKCS#1 v1.5), Ed25519 keys with ``hs2019``.
    """
    if any(char in key_id for char in '"\\\r\n'):
        raise ValueError("key id must not contain quotes, backslashes or line breaks")
    fields = _field_lines(headers)
    added: dict[str, str] = {}
    date = _combined(fields, "date")
    if date is None:
        date = added["Date"] = _http_date(_timestamp(now))
    host = _authority(url)
    existing_host = _combined(fields, "host")
    if existing_host is not None and not _host_header_matches(existing_host, url):
        raise ValueError(f"Host header {existing_host!r} does not match {url!r}")
    added["Host"] = host
    lines = [
        f"(request-target): {_request_target(method, url)}",
        f"host: {host}",
        f"date: {date}",
    ]
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        digest = added["Digest"] = _sha256_digest(body)
        lines.append(f"digest: {digest}")
        covered.append("digest")
    signature = _sign_bytes(private_key, _encode_signing_string("\n".join(lines)))
    algorithm = "rsa-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "hs2019"
    added["Signature"] = (
        f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(signature).decode("ascii")}"'
    )
    return added


def _verify_cavage(
    method: str,
    url: str,
    fields: Mapping[str, list[str]],
    body: bytes | None,
    key_resolver: KeyResolver,
    now: int,
    skew: float,
    min_rsa_bits: int,
) -> VerifiedSignature:
    header = _single(fields, "signature", "Signature")
    if header is None:
        raise MissingSignature("no Signature or Signature-Input header")
    params = _parse_cavage(header)
    key_id = params.get("keyId")
    if not key_id:
        raise MalformedSignature("Signature header has no keyId")
    if not params.get("signature"):
        raise MalformedSignature("Signature header has no signature")
    signature = _b64decode(params["signature"], "signature parameter")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in _CAVAGE_ALGORITHMS:
        raise UnsupportedAlgorithm(f"Signature algorithm {algorithm!r} is not supported")
    # Mastodon's defaults for an absent headers parameter (draft-cavage-12 2.1.6).
    covered_text = params.get("headers", "(created)" if algorithm == "hs2019" else "date")
    covered = covered_text.lower().split()
    if not covered:
        raise MalformedSignature("Signature headers parameter is empty")
    if len(set(covered)) != len(covered):
        raise MalformedSignature("Signature headers parameter lists a header twice")

    missing = [name for name in ("(request-target)", "host") if name not in covered]
    if "date" not in covered and "(created)" not in covered:
        missing.append("date or (created)")
    if body and "digest" not in covered:
        missing.append("digest")
    if missing:
        raise MissingComponents(f"draft-cavage signature must cover {', '.join(missing)}")
    if algorithm == "rsa-sha256" and ("(created)" in covered or "(expires)" in covered):
        raise MalformedSignature("(created) and (expires) are not allowed with rsa-sha256")

    created = _int_param(params, "created")
    expires = _int_param(params, "expires")
    if "(created)" in covered and created is None:
        raise MalformedSignature("(created) is covered but the created parameter is absent")
    if "(expires)" in covered and expires is None:
        raise MalformedSignature("(expires) is covered but the expires parameter is absent")

    host = _combined(fields, "host")
    if host is None:
        raise BadSignature("covered header 'host' is absent from the request")
    if not _host_header_matches(host, url):
        raise HostMismatch(f"signed Host {host!r} is not the authority of {url!r}")

    signed_at = created
    if "date" in covered:
        date = _single(fields, "date", "Date")
        if date is None:
            raise BadSignature("covered header 'date' is absent from the request")
        try:
            date_ts = parse_http_date(date)
        except ValueError as exc:
            raise UnparsableDate(f"Date {date!r} is not an HTTP date") from exc
        _check_window("Date", date_ts, now, skew)
        signed_at = created if created is not None else date_ts
    if created is not None:
        _check_window("created", created, now, skew)
    _check_expires(expires, now)

    _check_digests(fields, body, "digest" if body else None)

    lines: list[str] = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {_request_target(method, url)}")
        elif name == "(created)":
            lines.append(f"(created): {created}")
        elif name == "(expires)":
            lines.append(f"(expires): {expires}")
        elif name.startswith("("):
            raise BadSignature(f"unknown pseudo-header {name!r}")
        else:
            value = _combined(fields, name)
            if value is None:
                raise BadSignature(f"covered header {name!r} is absent from the request")
            lines.append(f"{name}: {value}")
    signing_string = _encode_signing_string("\n".join(lines))

    key = _resolve_key(key_resolver, key_id)
    _check_key_strength(key, min_rsa_bits)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm == "ed25519":
                raise UnsupportedAlgorithm("algorithm ed25519 does not fit an RSA key")
            key.verify(signature, signing_string, padding.PKCS1v15(), hashes.SHA256())
        else:
            if algorithm == "rsa-sha256":
                raise UnsupportedAlgorithm("algorithm rsa-sha256 does not fit an Ed25519 key")
            key.verify(signature, signing_string)
    except _CryptoInvalidSignature:
        raise BadSignature(f"draft-cavage signature does not verify with {key_id!r}") from None
    return VerifiedSignature(key_id, "cavage", algorithm, tuple(covered), signed_at)


# -------------------------------------------------------------------------- RFC 9421


@dataclass
class _RequestShim:
    """The three attributes ``http_message_signatures`` reads from a request."""

    method: str
    url: str
    headers: Any


class _FieldView:
    """Read-only header container for the library: ``items()`` keeps every line."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._pairs)


class _PolicyCheckedVerifier(HTTPMessageVerifier):
    """The library verifier minus its wall-clock check, which :func:`verify` did."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


def _rfc9421_algorithm(private_key: PrivateKey) -> type[HTTPSignatureAlgorithm]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return RSA_V1_5_SHA256
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return ED25519
    raise TypeError(f"unsupported private key type {type(private_key).__name__}")


def sign_rfc9421(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key_id: str,
    private_key: PrivateKey,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers to add to sign a request with RFC 9421 (label ``sig1``).

    Covers ``@method``, ``@target-uri`` and, when ``body`` is not None,
    ``content-digest`` (sha-256, added). Parameters: ``created``, ``keyid``, ``alg``
    (``rsa-v1_5-sha256`` or ``ed25519``). Returns ``Content-Digest`` (bodies),
    ``Signature-Input`` and ``Signature``; they replace any of the same name.
    """
    created = datetime.fromtimestamp(_timestamp(now), UTC)
    replaced = {"signature", "signature-input", "content-digest"}
    flat = {
        name: ", ".join(values)
        for name, values in _field_lines(headers).items()
        if name not in replaced
    }
    shim = _RequestShim(method.upper(), url, flat)
    signer = HTTPMessageSigner(
        signature_algorithm=_rfc9421_algorithm(private_key),
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: private_key}),
    )
    try:
        signer.sign(
            shim,
            key_id=key_id,
            created=created,
            label=RFC9421_LABEL,
            covered_component_ids=("@method", "@target-uri"),
            body=body,
        )
    except HTTPMessageSignaturesException as exc:
        raise ValueError(f"cannot sign {method} {url}: {exc}") from exc
    added = {"Signature-Input": flat["Signature-Input"], "Signature": flat["Signature"]}
    if body is not None:
        added["Content-Digest"] = flat["Content-Digest"]
    return added


def _covers_target(names: set[str], url: str) -> bool:
    if "@target-uri" in names:
        return True
    if "@authority" not in names:
        return False
    if "@request-target" in names:
        return True
    # @path alone leaves the query unsigned: require @query when there is one.
    return "@path" in names and (not _split_url(url).query or "@query" in names)


@dataclass(frozen=True, slots=True)
class _Rfc9421Signature:
    """The selected RFC 9421 signature, parsed and type-checked."""

    label: str
    member: Any  # the Signature-Input inner list, as http_sf parsed it
    signature_member: Any  # the Signature byte sequence, as http_sf parsed it
    components: list[tuple[str, dict[str, Any]]]
    params: dict[str, Any]
    covered: tuple[str, ...]
    key_id: str
    algorithm: str | None


def _parse_rfc9421(fields: Mapping[str, list[str]]) -> _Rfc9421Signature:
    """Parse both fields and select the first label; MalformedSignature on any doubt."""
    input_text = _combined(fields, "signature-input") or ""
    signature_text = _combined(fields, "signature")
    if signature_text is None:
        raise MissingSignature("Signature-Input is present but Signature is not")
    inputs = _parse_sf_dictionary(input_text, "Signature-Input")
    signatures = _parse_sf_dictionary(signature_text, "Signature")
    if not inputs:
        raise MalformedSignature("Signature-Input is empty")
    label, member = next(iter(inputs.items()))
    components, params = member
    if not isinstance(components, list):
        raise MalformedSignature(f"Signature-Input {label!r} is not an inner list")
    if label not in signatures:
        raise MalformedSignature(f"Signature has no member {label!r}")
    signature_member = signatures[label]
    signature_value = signature_member[0] if isinstance(signature_member, tuple) else None
    if not isinstance(signature_value, bytes) or not signature_value:
        raise MalformedSignature(f"Signature {label!r} is not a byte sequence")

    covered: list[str] = []
    identities: set[str] = set()
    for value, component_params in components:
        if type(value) is not str:
            raise MalformedSignature("covered components must be structured field strings")
        if value != value.lower():
            raise MalformedSignature(f"component {value!r} is not lower case")
        identity = http_sf.ser((value, component_params))
        if identity in identities:
            raise MalformedSignature(f"component {identity} is covered twice")
        identities.add(identity)
        # Bare names read best in logs; parameters keep their serialised form.
        covered.append(value if not component_params else identity)

    for name in params:
        if name not in _RFC9421_PARAMS:
            raise MalformedSignature(f"unknown signature parameter {name!r}")
    key_id = params.get("keyid")
    if type(key_id) is not str or not key_id:
        raise MalformedSignature("signature parameter keyid is absent or not a string")
    algorithm = params.get("alg")
    if algorithm is not None and type(algorithm) is not str:
        raise MalformedSignature("signature parameter alg is not a string")
    for name in ("nonce", "tag"):
        if name in params and type(params[name]) is not str:
            raise MalformedSignature(f"signature parameter {name} is not a string")
    for name in ("created", "expires"):
        # type() and not isinstance(): a structured-field Boolean is an int too.
        if name in params and type(params[name]) is not int:
            raise UnparsableDate(f"signature parameter {name} is not an integer")
    return _Rfc9421Signature(
        label, member, signature_member, components, params, tuple(covered), key_id, algorithm
    )


def _check_rfc9421_coverage(parsed: _Rfc9421Signature, url: str, body: bytes | None) -> None:
    # Derived components count only without parameters (";req" etc. change meaning).
    plain = {value for value, component_params in parsed.components if not component_params}
    digest_covered = any(
        value == "content-digest" and set(component_params) <= {"sf", "key"}
        for value, component_params in parsed.components
    )
    missing = [] if "@method" in plain else ["@method"]
    if not _covers_target(plain, url):
        missing.append("@target-uri (or @authority with @path/@request-target)")
    if body and not digest_covered:
        missing.append("content-digest")
    if "created" not in parsed.params:
        missing.append("the created parameter")
    if missing:
        raise MissingComponents(f"RFC 9421 signature must cover {', '.join(missing)}")


def _verify_rfc9421(
    method: str,
    url: str,
    fields: Mapping[str, list[str]],
    body: bytes | None,
    key_resolver: KeyResolver,
    now: int,
    skew: float,
    min_rsa_bits: int,
) -> VerifiedSignature:
    parsed = _parse_rfc9421(fields)
    algorithm = parsed.algorithm
    if algorithm is not None and algorithm not in _RFC9421_ALGORITHMS:
        raise UnsupportedAlgorithm(f"RFC 9421 algorithm {algorithm!r} is not supported")
    _check_rfc9421_coverage(parsed, url, body)
    created: int = parsed.params["created"]
    _check_window("created", created, now, skew)
    _check_expires(parsed.params.get("expires"), now)
    _check_digests(fields, body, "content-digest" if body else None)
    for value, _ in parsed.components:
        if not value.startswith("@") and not fields.get(value):
            raise BadSignature(f"covered header {value!r} is absent from the request")

    key = _resolve_key(key_resolver, parsed.key_id)
    _check_key_strength(key, min_rsa_bits)
    if algorithm is None:
        algorithm = "rsa-v1_5-sha256" if isinstance(key, rsa.RSAPublicKey) else "ed25519"
    algorithm_class = _RFC9421_ALGORITHMS[algorithm]
    expected_key = (
        rsa.RSAPublicKey if algorithm_class is RSA_V1_5_SHA256 else ed25519.Ed25519PublicKey
    )
    if not isinstance(key, expected_key):
        raise UnsupportedAlgorithm(f"algorithm {algorithm} does not fit a {type(key).__name__}")
    _library_verify(method, url, fields, parsed, algorithm_class, key)
    return VerifiedSignature(parsed.key_id, "rfc9421", algorithm, parsed.covered, created)


def _library_verify(
    method: str,
    url: str,
    fields: Mapping[str, list[str]],
    parsed: _Rfc9421Signature,
    algorithm_class: type[HTTPSignatureAlgorithm],
    key: PublicKey,
) -> None:
    """Signature base and cryptography by ``http_message_signatures``."""
    # Hand the library exactly one signature, re-serialised by the same parser: the
    # signature base is built from the parsed inner list, so it is unchanged.
    pairs = [
        (name, value)
        for name, values in fields.items()
        if name not in ("signature-input", "signature")
        for value in values
    ]
    pairs.append(("signature-input", http_sf.ser({parsed.label: parsed.member})))
    pairs.append(("signature", http_sf.ser({parsed.label: parsed.signature_member})))
    verifier = _PolicyCheckedVerifier(
        signature_algorithm=algorithm_class,
        key_resolver=MappingKeyResolver(public_keys={parsed.key_id: key}, private_keys={}),
    )
    try:
        verifier.verify(_RequestShim(method.upper(), url, _FieldView(pairs)), max_age=None)
    except HTTPMessageSignaturesException as exc:
        cause = exc.args[0] if exc.args else exc.__cause__
        if isinstance(cause, _CryptoInvalidSignature):
            raise BadSignature(
                f"RFC 9421 signature does not verify with {parsed.key_id!r}"
            ) from None
        raise BadSignature(f"RFC 9421 signature cannot be checked: {exc}") from exc
    except Exception as exc:
        # Whatever else the library trips on, the request is not authenticated;
        # it must come out as a refusal, never as a server error.
        raise BadSignature(f"RFC 9421 signature cannot be checked: {exc!r}") from exc


# ---------------------------------------------------------------------------- verify


def verify(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key_resolver: KeyResolver,
    *,
    now: datetime | None = None,
    max_skew: float | timedelta = DEFAULT_MAX_SKEW,
    min_rsa_bits: int = MIN_RSA_KEY_BITS,
) -> VerifiedSignature:
    """Check the request's signature; return who signed it or raise ``SignatureError``.

    ``url`` is the absolute URL the request reached (scheme, our host, raw path and
    query as received); ``body`` the raw body bytes, or None for a request without
    one. RFC 9421 is checked when ``Signature-Input`` is present, else draft-cavage.
    ``key_resolver`` is called once, with the key id, after every other check passed.
    """
    now_ts = _timestamp(now)
    skew = _skew_seconds(max_skew)
    fields = _field_lines(headers)
    if "signature-input" in fields:
        return _verify_rfc9421(method, url, fields, body, key_resolver, now_ts, skew, min_rsa_bits)
    return _verify_cavage(method, url, fields, body, key_resolver, now_ts, skew, min_rsa_bits)
