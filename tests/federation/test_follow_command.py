"""``parvis follow``: a hosted account follows and unfollows accounts of other servers.

The remote account is served on loopback (WebFinger and actor document) and
receives the signed Follow and Undo for real; every bad input stops the command
with a message naming the problem, exit code 1, and nothing written or queued.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django_tasks_db.models import DBTaskResult

from parvis.core.tasks import run_pending
from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.identity.models import Account
from parvis.interactions import services as interactions
from parvis.interactions.models import Block, Follow
from tests.federation.signed import Remote

pytestmark = pytest.mark.django_db(transaction=True)

VILLE = "ville@social.blois.fr"


@pytest.fixture
def alice(remote: Remote, settings, account: Account) -> str:
    """The address of the remote actor, with the port its server listens on."""
    # Addresses are looked up over plain HTTP when this server is a plain-HTTP trial.
    settings.PARVIS_URL_SCHEME = "http"
    address = f"alice@127.0.0.1:{remote.sink.port}"
    path = f"/.well-known/webfinger?resource=acct:{address}"
    remote.sink.documents[path] = {
        "subject": f"acct:{address}",
        "links": [{"rel": "self", "type": "application/activity+json", "href": remote.uri}],
    }
    remote.sink.content_types[path] = "application/jrd+json"
    return address


def follow(*args: str) -> str:
    out = StringIO()
    call_command("follow", *args, stdout=out)
    return out.getvalue()


def drain() -> None:
    for _ in range(5):
        if run_pending() == 0:
            return


def sent(remote: Remote) -> list[dict]:
    return [json.loads(r.body) for r in remote.sink.received if r.path == "/users/alice/inbox"]


def test_following_an_address_sends_a_signed_follow(remote: Remote, alice: str) -> None:
    output = follow(VILLE, alice)
    follow_row = Follow.objects.get()
    assert follow_row.state == Follow.State.PENDING
    assert follow_row.target.uri == remote.uri and follow_row.follower.acct == VILLE
    assert "pending until it is accepted" in output and remote.uri in output
    drain()
    [activity] = sent(remote)
    assert activity["type"] == "Follow" and activity["object"] == remote.uri
    assert activity["actor"] == "http://social.blois.fr/@ville"
    assert activity["id"] == Follow.objects.get().uri
    [request] = [r for r in remote.sink.received if r.path == "/users/alice/inbox"]
    assert "keyId=" in request.headers["Signature"]
    # Asked again, nothing is sent twice.
    assert "already follows" in follow(VILLE, alice)
    drain()
    assert len(sent(remote)) == 1


def test_following_an_actor_url_then_undoing_it(remote: Remote, alice: str) -> None:
    follow(VILLE, remote.uri)
    interactions.accept_follow(Follow.objects.get())
    drain()
    follow_uri = Follow.objects.get().uri
    assert "no longer follows" in follow(VILLE, remote.uri, "--undo")
    assert not Follow.objects.exists()
    drain()
    undo = sent(remote)[-1]
    assert undo["type"] == "Undo" and undo["object"]["id"] == follow_uri
    assert undo["object"]["type"] == "Follow" and undo["object"]["object"] == remote.uri


def test_undo_by_address_needs_no_request(remote: Remote, alice: str) -> None:
    """The followed account is known here: undoing works while its server is gone."""
    follow(VILLE, alice)
    remote.sink.documents.clear()
    follow(VILLE, alice, "--undo")
    assert not Follow.objects.exists()


def test_a_hosted_account_is_followed_without_any_request(
    remote: Remote, alice: str, function_account: Account
) -> None:
    output = follow("maire@social.blois.fr", "http://social.blois.fr/@ville")
    follow_row = Follow.objects.get()
    assert follow_row.state == Follow.State.ACCEPTED and follow_row.target.acct == VILLE
    assert "now follows" in output
    # No remote copy of a hosted actor, and nothing to deliver.
    assert not Account.objects.remote().exists() and not DBTaskResult.objects.exists()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code and error output of ``parvis follow …`` as the shell runs it."""
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["parvis", "follow", *args]).execute()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@social.blois.fr", "{alice}"), "No account nobody@social.blois.fr is hosted"),
        (("ville", "{alice}"), "'ville' is not an address of the form user@server"),
        ((VILLE, "alice"), "'alice' is not an address of the form user@server"),
        ((VILLE, "bob@127.0.0.1:{port}"), "Cannot find bob@127.0.0.1:{port}: "),
        ((VILLE, "alice@127.0.0.1:99999"), "Cannot find alice@127.0.0.1:99999: "),
        ((VILLE, "alice@evil.example/x"), "does not name a server"),
        ((VILLE, "http://127.0.0.1:{port}/users/nobody"), "answered HTTP 404"),
        ((VILLE, VILLE), "ville@social.blois.fr cannot follow itself"),
        ((VILLE, "http://social.blois.fr/@ville"), "ville@social.blois.fr cannot follow itself"),
        ((VILLE, "http://social.blois.fr/@nobody"), "is not the address of an account hosted"),
        ((VILLE, "{alice}", "--undo"), "ville@social.blois.fr does not follow alice@"),
    ],
)
def test_bad_input_names_the_problem_and_changes_nothing(
    remote: Remote,
    alice: str,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    port = remote.sink.port
    args = tuple(a.format(alice=alice, port=port) for a in args)
    code, error = run_cli(capsys, *args)
    assert code == 1
    assert message.format(port=port) in error
    assert not Follow.objects.exists() and not DBTaskResult.objects.exists()
    assert not remote.sink.received


def test_a_blocked_domain_is_refused_before_any_request(
    remote: Remote, alice: str, capsys: pytest.CaptureFixture[str]
) -> None:
    BlockedDomain.objects.create(domain="127.0.0.1")
    code, error = run_cli(capsys, VILLE, alice)
    assert code == 1 and "127.0.0.1 is a blocked domain" in error
    # Not even the actor was fetched from it.
    assert not RemoteActor.objects.exists() and not Follow.objects.exists()


def test_an_account_blocked_either_way_is_not_followed(
    remote: Remote, alice: str, account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    follow(VILLE, alice)
    follow(VILLE, alice, "--undo")
    interactions.record_block(RemoteActor.objects.get().account, account)
    code, error = run_cli(capsys, VILLE, alice)
    assert code == 1 and "block each other" in error
    assert not Follow.objects.exists() and Block.objects.count() == 1
