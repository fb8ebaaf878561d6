"""Account keys: made once on first need, stored encrypted, usable for signing."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from parvis.federation import signatures
from parvis.federation.keys import base58btc, ed25519_private_key, keys_for, rsa_private_key
from parvis.federation.models import ActorKey
from parvis.identity.models import Account
from tests.threads import in_threads


def test_keys_are_encrypted_at_rest_and_sign(account: Account) -> None:
    keys = keys_for(account)
    assert "ENCRYPTED PRIVATE KEY" in keys.rsa_private_pem
    assert "ENCRYPTED PRIVATE KEY" in keys.ed25519_private_pem
    with pytest.raises((TypeError, ValueError)):
        signatures.load_private_pem(keys.rsa_private_pem, None)
    headers = signatures.sign_cavage(
        "POST", "https://a.example/inbox", {"Host": "a.example"}, b"{}", "k", rsa_private_key(keys)
    )
    public = signatures.load_public_pem(keys.rsa_public_pem)
    verified = signatures.verify(
        "POST",
        "https://a.example/inbox",
        {"Host": "a.example", **headers},
        b"{}",
        lambda _k: public,
    )
    assert verified.key_id == "k"
    assert isinstance(ed25519_private_key(keys), ed25519.Ed25519PrivateKey)
    assert keys_for(account).pk == keys.pk


def test_base58btc_matches_the_multibase_alphabet() -> None:
    assert base58btc(b"\x00\x00\x01") == "112"
    assert base58btc(b"hello world") == "StV1DL6CwTryKyV"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_makes_one_key(account: Account) -> None:
    results = in_threads(lambda: keys_for(Account.objects.get(pk=account.pk)).pk, 4)
    assert len(results) == 4
    assert ActorKey.objects.count() == 1 and len(set(results)) == 1
