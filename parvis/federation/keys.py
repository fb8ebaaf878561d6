"""Signing keys of local accounts and instance actors: created on first need, private
halves encrypted at rest."""

from __future__ import annotations

import functools
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.db import IntegrityError, transaction

from parvis.federation.models import ActorKey
from parvis.federation.signatures import (
    generate_ed25519_key,
    generate_rsa_key,
    load_private_pem,
    private_pem_encrypted,
    public_pem,
)
from parvis.identity.models import Account, Domain

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_MULTICODEC = b"\xed\x01"


def _passphrase() -> bytes:
    # Derived from the secret key: a database dump alone does not reveal private
    # keys. Changing PARVIS_SECRET_KEY makes stored keys unreadable (documented).
    return hashlib.sha256(b"parvis-actor-keys:" + settings.SECRET_KEY.encode()).digest()


def base58btc(data: bytes) -> str:
    """Bitcoin-alphabet base58, as multibase ``z`` strings use."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _BASE58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def keys_for(account: Account) -> ActorKey:
    """The account's keys, generated now if it never needed them before."""
    return _keys(account=account)


def instance_keys(domain: Domain) -> ActorKey:
    """The keys of the domain's instance actor, generated now if never needed before."""
    return _keys(domain=domain)


def _keys(**owner: Account | Domain) -> ActorKey:
    existing = ActorKey.objects.filter(**owner).first()
    if existing is not None:
        return existing
    rsa_key, ed_key = generate_rsa_key(), generate_ed25519_key()
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    try:
        with transaction.atomic():
            return ActorKey.objects.create(
                **owner,
                rsa_public_pem=public_pem(rsa_key),
                rsa_private_pem=private_pem_encrypted(rsa_key, _passphrase()),
                ed25519_public_multibase="z" + base58btc(_ED25519_MULTICODEC + ed_public),
                ed25519_private_pem=private_pem_encrypted(ed_key, _passphrase()),
            )
    except IntegrityError:
        # Another process generated them at the same moment: use theirs.
        return ActorKey.objects.get(**owner)


@functools.lru_cache(maxsize=256)
def _decrypted(pem: str, passphrase: bytes) -> object:
    # Decrypting a stored key costs a key derivation: done once per process and key.
    return load_private_pem(pem, passphrase)


def rsa_private_key(keys: ActorKey) -> rsa.RSAPrivateKey:
    """The decrypted RSA private key (for signing outgoing requests)."""
    key = _decrypted(keys.rsa_private_pem, _passphrase())
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ed25519_private_key(keys: ActorKey) -> ed25519.Ed25519PrivateKey:
    """The decrypted Ed25519 private key (FEP-521a)."""
    key = _decrypted(keys.ed25519_private_pem, _passphrase())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key
