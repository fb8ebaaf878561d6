"""Receiving activities: signed Follow/Undo from a remote actor served on loopback,
and the forged, misattributed, oversized and duplicated requests that must change nothing."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from parvis.core.tasks import run_pending
from parvis.federation import signatures
from parvis.federation.models import Delivery, InboundActivity, RemoteActor
from parvis.identity.models import Account
from parvis.interactions.models import Follow
from tests.federation.signed import INBOX, VILLE, Remote, make_remote, post

pytestmark = pytest.mark.django_db(transaction=True)


def drain() -> None:
    for _ in range(10):
        if run_pending() == 0:
            return


def test_follow_is_accepted_and_the_accept_delivered_signed(
    remote: Remote, account: Account
) -> None:
    response = post(remote.activity("Follow", VILLE), key_id=remote.key_id, key=remote.key)
    assert response.status_code == 202, response.content
    drain()
    follow = Follow.objects.get()
    assert follow.state == Follow.State.ACCEPTED and follow.target == account
    accept = json.loads(remote.sink.received[-1].body)
    assert remote.sink.received[-1].path == "/users/alice/inbox"
    assert (
        accept["type"] == "Accept" and accept["object"]["id"] == remote.uri + "/activities/follow/1"
    )
    assert Delivery.objects.get().state == Delivery.State.SENT
    assert RemoteActor.objects.get().shared_inbox == remote.sink.url("/inbox")


def test_rfc9421_signed_follow_on_the_personal_inbox(remote: Remote, account: Account) -> None:
    response = post(
        remote.activity("Follow", VILLE),
        key_id=remote.key_id,
        key=remote.key,
        url=f"{VILLE}/inbox",
        scheme="rfc9421",
    )
    assert response.status_code == 202
    drain()
    assert Follow.objects.count() == 1


def test_undo_follow(remote: Remote, account: Account) -> None:
    follow = remote.activity("Follow", VILLE)
    post(follow, key_id=remote.key_id, key=remote.key)
    drain()
    undo = remote.activity(
        "Undo", {"id": follow["id"], "type": "Follow", "actor": remote.uri, "object": VILLE}
    )
    assert post(undo, key_id=remote.key_id, key=remote.key).status_code == 202
    drain()
    assert not Follow.objects.exists()


def test_the_same_activity_ten_times_has_one_effect(remote: Remote, account: Account) -> None:
    follow = remote.activity("Follow", VILLE)
    for url in [INBOX] * 5 + [f"{VILLE}/inbox"] * 5:
        assert post(follow, key_id=remote.key_id, key=remote.key, url=url).status_code == 202
    drain()
    assert InboundActivity.objects.count() == 1
    assert Follow.objects.count() == 1
    assert Delivery.objects.count() == 1  # one Accept


def test_unknown_types_are_kept_with_their_outcome(remote: Remote, account: Account) -> None:
    activity = remote.activity("Arrive", f"{VILLE}/1")
    assert post(activity, key_id=remote.key_id, key=remote.key).status_code == 202
    drain()
    assert InboundActivity.objects.get().outcome == "Arrive not handled"


def forged_requests(remote: Remote, other: Remote) -> list[tuple[str, dict]]:
    """(name, keyword arguments of post()) for requests that must all be refused."""
    follow = remote.activity("Follow", VILLE)
    as_other = dict(follow, actor=other.uri)
    cross_origin_id = dict(follow, id="https://evil.example/activities/1")
    cases: list[tuple[str, dict]] = [
        (
            "no signature at all",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "tamper": {"Signature": None, "Digest": None, "Date": None},
            },
        ),
        (
            "unsigned",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "tamper": {"Signature": ""},
            },
        ),
        (
            "signed by another actor",
            {"activity": as_other, "key_id": remote.key_id, "key": remote.key},
        ),
        ("key of another actor", {"activity": follow, "key_id": other.key_id, "key": other.key}),
        (
            "wrong private key",
            {"activity": follow, "key_id": remote.key_id, "key": signatures.generate_rsa_key()},
        ),
        (
            "id on another origin",
            {"activity": cross_origin_id, "key_id": remote.key_id, "key": remote.key},
        ),
        (
            "stale date",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "now": datetime.now(UTC) - timedelta(hours=2),
            },
        ),
        (
            "future date",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "now": datetime.now(UTC) + timedelta(hours=2),
            },
        ),
        (
            "unknown key",
            {"activity": follow, "key_id": remote.uri + "#other-key", "key": remote.key},
        ),
        (
            "key on a missing actor",
            {"activity": follow, "key_id": remote.sink.url("/nobody#k"), "key": remote.key},
        ),
        (
            "body changed after signing",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "tamper": {"Digest": "SHA-256=AAAA"},
            },
        ),
        (
            "signed for another host",
            {
                "activity": follow,
                "key_id": remote.key_id,
                "key": remote.key,
                "url": "https://elsewhere.example/inbox",
            },
        ),
    ]
    return cases


def test_forged_and_misattributed_requests_change_nothing(remote: Remote, account: Account) -> None:
    other = make_remote(remote.sink, "mallory")
    refused = 0
    for name, kwargs in forged_requests(remote, other):
        url = kwargs.get("url", INBOX)
        if "elsewhere" in url:
            # Signed for another host, replayed to us.
            kwargs = dict(kwargs, url=INBOX)
            kwargs["tamper"] = {}
            body = json.dumps(kwargs["activity"]).encode()
            headers = {"Host": "elsewhere.example"}
            headers.update(
                signatures.sign_cavage("POST", url, headers, body, remote.key_id, remote.key)
            )
            meta = {
                f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Host"
            }
            response = Client(HTTP_HOST="social.blois.fr").post(
                "/inbox", body, content_type="application/activity+json", secure=True, **meta
            )
        else:
            response = post(**kwargs)
        assert response.status_code in (400, 401, 403), (
            name,
            response.status_code,
            response.content,
        )
        refused += 1
        print(name, response.status_code, response.json()["error"][:90])
    assert InboundActivity.objects.count() == 0 and Follow.objects.count() == 0
    print(f"\n{refused} forged requests: 0 accepted, 0 stored")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 400),
        (b'{"type": "Follow"}', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"id": "https://x.example/1", "type": "Follow"}', 400),
    ],
)
def test_malformed_bodies_are_refused(
    remote: Remote, account: Account, body: bytes, status: int
) -> None:
    response = post(body, key_id=remote.key_id, key=remote.key)
    assert response.status_code == status
    assert not InboundActivity.objects.exists()


def test_oversized_body_is_413(remote: Remote, account: Account) -> None:
    big = remote.activity("Note", "x" * (1024 * 1024 + 10))
    assert post(big, key_id=remote.key_id, key=remote.key).status_code == 413
    assert not InboundActivity.objects.exists()


def test_inbox_of_unknown_account_is_404(remote: Remote, account: Account) -> None:
    response = post(
        remote.activity("Follow", VILLE),
        key_id=remote.key_id,
        key=remote.key,
        url="https://social.blois.fr/@personne/inbox",
    )
    assert response.status_code == 404


def test_blocked_domain_is_refused_before_any_fetch(remote: Remote, account: Account) -> None:
    from parvis.federation.models import BlockedDomain

    BlockedDomain.objects.create(domain="0.1")  # a parent "domain" of 127.0.0.1
    remote.sink.documents.clear()  # a key fetch would now fail with 401, not 403
    response = post(remote.activity("Follow", VILLE), key_id=remote.key_id, key=remote.key)
    assert response.status_code == 403
    assert not InboundActivity.objects.exists() and not RemoteActor.objects.exists()


def test_a_signed_request_from_an_unavailable_host_makes_it_available(
    remote: Remote, account: Account
) -> None:
    from django.utils import timezone

    from parvis.federation.models import RemoteHost

    RemoteHost.objects.create(
        domain="127.0.0.1", unavailable_since=timezone.now(), consecutive_failures=40
    )
    assert (
        post(remote.activity("Follow", VILLE), key_id=remote.key_id, key=remote.key).status_code
        == 202
    )
    host = RemoteHost.objects.get()
    assert host.unavailable_since is None and host.consecutive_failures == 0


def test_a_flooding_address_gets_429_and_others_do_not(
    remote: Remote, account: Account, settings
) -> None:
    settings.PARVIS_INBOX_RATE_PER_MINUTE = 5
    statuses = [
        Client(REMOTE_ADDR="192.0.2.7")
        .post("/inbox", b"{}", content_type="application/json")
        .status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    flood = Client(REMOTE_ADDR="192.0.2.7").post("/inbox", b"{}", content_type="application/json")
    assert int(flood["Retry-After"]) > 0
    # Another server is unaffected.
    response = post(remote.activity("Follow", VILLE), key_id=remote.key_id, key=remote.key)
    assert response.status_code == 202
