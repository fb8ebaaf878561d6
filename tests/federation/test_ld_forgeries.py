"""Checklist S11 and S12: JSON-LD signatures and FEP-8b32 proofs are never a way in.

Parvis believes an activity only on the HTTP signature of its own actor. A linked-data
signature (RsaSignature2017, as Mastodon forwards replies) or a FEP-8b32 integrity proof
carried by a request that another actor signed is not accepted as authentic, however the
document is restructured around it (GHSA-9rfg-v8g9-9367, CVE-2026-46349).
"""

import json
from pathlib import Path

import pytest

from parvis.core.tasks import run_pending
from parvis.federation.models import InboundActivity
from parvis.identity.models import Account
from parvis.interactions.models import Follow
from tests.federation.signed import VILLE, Remote, make_remote, post

pytestmark = pytest.mark.django_db(transaction=True)

PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "proofPurpose": "assertionMethod",
    "created": "2026-11-21T10:00:00Z",
    "proofValue": "z" + "5" * 86,
}


def _mastodon_ld_signed_delete(shared_data: Path) -> dict:
    """A real activity Mastodon signed with RsaSignature2017."""
    path = shared_data / "activitypub/lemmy-apub-assets/mastodon/activities/delete.json"
    return json.loads(path.read_text())


def _refused(remote: Remote, activity: dict) -> int:
    response = post(activity, key_id=remote.key_id, key=remote.key)
    assert response.status_code in (400, 401, 403), response.content
    return response.status_code


def test_s11_a_relayed_ld_signed_activity_is_not_authentic(
    remote: Remote, account: Account, shared_data: Path
) -> None:
    delete = _mastodon_ld_signed_delete(shared_data)
    assert delete["signature"]["type"] == "RsaSignature2017"
    # The relaying server signs the request; the activity names another actor.
    assert _refused(remote, delete) == 401


@pytest.mark.parametrize("wrapper", ["@graph", "@included", "@reverse"])
def test_s11_restructured_ld_documents_are_refused(
    remote: Remote, account: Account, shared_data: Path, wrapper: str
) -> None:
    follow = remote.activity("Follow", VILLE)
    hidden = {
        "@context": "https://www.w3.org/ns/activitystreams",
        wrapper: [follow] if wrapper != "@reverse" else {"actor": follow},
        "signature": _mastodon_ld_signed_delete(shared_data)["signature"],
    }
    assert _refused(remote, hidden) == 400
    # An @id alias is not read as the id either.
    aliased = {k: v for k, v in follow.items() if k != "id"} | {"@id": follow["id"]}
    assert _refused(remote, aliased) == 400


@pytest.mark.parametrize(
    "case",
    ["another actor's verification method", "expired", "the signer's own key"],
)
def test_s12_fep_8b32_proofs_do_not_make_a_forwarded_activity_authentic(
    remote: Remote, account: Account, case: str
) -> None:
    victim = make_remote(remote.sink, "victim")
    follow = victim.activity("Follow", VILLE)
    method = {
        "another actor's verification method": f"{victim.uri}#ed25519-key",
        "expired": f"{victim.uri}#ed25519-key",
        "the signer's own key": f"{remote.uri}#ed25519-key",
    }[case]
    proof = dict(PROOF, verificationMethod=method)
    if case == "expired":
        proof["expires"] = "2020-01-01T00:00:00Z"
    assert _refused(remote, dict(follow, proof=proof)) == 401


def test_nothing_refused_here_was_stored(remote: Remote, account: Account, shared_data) -> None:
    _refused(remote, _mastodon_ld_signed_delete(shared_data))
    victim = make_remote(remote.sink, "victim")
    _refused(remote, dict(victim.activity("Follow", VILLE), proof=PROOF))
    assert not InboundActivity.objects.exists() and not Follow.objects.exists()


def test_r3_remote_contexts_are_never_fetched(remote: Remote, account: Account) -> None:
    """Parvis reads activities as compacted JSON (as Mastodon does): no document loader."""
    follow = remote.activity("Follow", VILLE)
    follow["@context"] = [remote.sink.url("/context.jsonld"), "http://169.254.169.254/latest"]
    response = post(follow, key_id=remote.key_id, key=remote.key)
    assert response.status_code == 202
    run_pending()
    assert Follow.objects.count() == 1
    assert [f.path for f in remote.sink.fetches] == ["/users/alice"]
