"""Signing keys of local accounts: created on first need, private halves encrypted at rest."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.db import IntegrityError, transaction

from parvis.federation.models import ActorKey
from parvis.identity.models import Account

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


def _encrypted(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase()),
    ).decode()


def keys_for(account: Account) -> ActorKey:
    """The account's keys, generated now if it never needed them before."""
    existing = ActorKey.objects.filter(account=account).first()
    if existing is not None:
        return existing
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    try:
        with transaction.atomic():
            return ActorKey.objects.create(
                account=account,
                rsa_public_pem=rsa_key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode(),
                rsa_private_pem=_encrypted(rsa_key),
                ed25519_public_multibase="z" + base58btc(_ED25519_MULTICODEC + ed_public),
                ed25519_private_pem=_encrypted(ed_key),
            )
    except IntegrityError:
        # Another process generated them at the same moment: use theirs.
        return ActorKey.objects.get(account=account)


def rsa_private_key(keys: ActorKey) -> rsa.RSAPrivateKey:
    """The decrypted RSA private key (for signing outgoing requests)."""
    key = serialization.load_pem_private_key(keys.rsa_private_pem.encode(), _passphrase())
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ed25519_private_key(keys: ActorKey) -> ed25519.Ed25519PrivateKey:
    """The decrypted Ed25519 private key (FEP-521a)."""
    key = serialization.load_pem_private_key(keys.ed25519_private_pem.encode(), _passphrase())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key
