"""Sending activities for real to an inbox on loopback: signed, deduplicated, retried, given up."""

import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from parvis.core.tasks import run_pending
from parvis.federation import signatures
from parvis.federation.models import ActorKey, Delivery, RemoteActor, RemoteHost
from parvis.identity.models import Account, Staff
from parvis.identity.services import RemoteProfile, record_remote_account
from parvis.interactions.models import Follow
from parvis.publishing import services
from parvis.publishing.services import Content
from tests.federation.sink import Received, Sink, running_sink

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sink(settings) -> Iterator[Sink]:
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    with running_sink() as sink:
        yield sink


@pytest.fixture
def followers(sink: Sink, account: Account) -> list[RemoteActor]:
    return [
        remote_follower(account, sink.url(f"/users/{name}"), shared_inbox=sink.url("/inbox"))
        for name in ("alice", "bob")
    ]


def remote_follower(account: Account, uri: str, *, shared_inbox: str = "") -> RemoteActor:
    """A remote account (inbox ``<uri>/inbox``) whose follow of ``account`` is accepted."""
    host = urlsplit(uri).hostname or ""
    follower = record_remote_account(
        RemoteProfile(uri=uri, handle=uri.rstrip("/").rsplit("/", 1)[-1], host=host)
    )
    actor = RemoteActor.objects.create(
        account=follower, uri=uri, domain=host, inbox=f"{uri}/inbox", shared_inbox=shared_inbox
    )
    Follow.objects.create(follower=follower, target=account, state=Follow.State.ACCEPTED)
    return actor


def drain() -> None:
    """Run tasks until none is due (publishing → fan-out → deliveries)."""
    for _ in range(10):
        if run_pending() == 0:
            return


def make_due() -> None:
    """Let time pass: every pending delivery and queued task becomes due now."""
    from django_tasks_db.models import DBTaskResult

    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(state=Delivery.State.PENDING).update(next_attempt_at=past)
    DBTaskResult.objects.filter(status="READY").update(run_after=past)


def verify(account: Account, request: Received) -> signatures.VerifiedSignature:
    keys = ActorKey.objects.get(account=account)
    public = signatures.load_public_pem(keys.rsa_public_pem)
    return signatures.verify(
        "POST",
        f"http://127.0.0.1{request.path}".replace("127.0.0.1", request.headers["Host"]),
        request.headers,
        request.body,
        lambda _k: public,
    )


def test_a_post_reaches_each_shared_inbox_once_signed(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    post = services.publish_post(publisher, account, Content(text="Marché #Blois"))
    drain()
    assert len(sink.received) == 1  # two followers, one shared inbox
    request = sink.received[0]
    assert request.path == "/inbox"
    activity = json.loads(request.body)
    assert activity["type"] == "Create"
    assert activity["object"]["id"] == f"https://social.blois.fr/@ville/{post.id}"
    verified = verify(account, request)
    assert verified.key_id == "https://social.blois.fr/@ville#main-key"
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.SENT and delivery.attempts == 1


def test_edit_and_delete_are_sent_in_order(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    post = services.publish_post(publisher, account, Content(text="a"))
    drain()
    services.edit_post(publisher, post, Content(text="b"))
    drain()
    services.delete_post(publisher, post)
    drain()
    kinds = [json.loads(r.body)["type"] for r in sink.received]
    assert kinds == ["Create", "Update", "Delete"]
    delete = json.loads(sink.received[-1].body)
    assert delete["object"] == {
        "id": f"https://social.blois.fr/@ville/{post.id}",
        "type": "Tombstone",
    }


def test_server_error_is_retried_with_growing_delays(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: 503
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    delivery = Delivery.objects.get()
    first_delay = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 1
    assert 55 < first_delay < 65 and delivery.last_error == "HTTP 503"
    make_due()
    drain()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert 115 < (delivery.next_attempt_at - timezone.now()).total_seconds() < 125
    sink.answer = lambda _r: 202
    make_due()
    drain()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and len(sink.received) == 3
    assert RemoteHost.objects.get().consecutive_failures == 0


def test_host_down_for_a_day_loses_nothing(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: 503
    services.publish_post(publisher, account, Content(text="tempête"))
    drain()
    elapsed = timedelta(0)
    while elapsed < timedelta(hours=24):
        delivery = Delivery.objects.get()
        wait = delivery.next_attempt_at - timezone.now()
        elapsed += wait
        # The clock jumps to the next attempt: the delivery is as old as the outage.
        Delivery.objects.update(created_at=delivery.created_at - wait)
        make_due()
        drain()
    assert Delivery.objects.get().state == Delivery.State.PENDING
    sink.answer = lambda _r: 202
    make_due()
    drain()
    delivery = Delivery.objects.get()
    accepted = [r for r in sink.received if json.loads(r.body)["type"] == "Create"]
    assert delivery.state == Delivery.State.SENT
    print(f"\nhost down {elapsed}: {delivery.attempts} attempts, 0 deliveries lost")
    assert len(accepted) == delivery.attempts  # every attempt reached the host; one succeeded


def test_retries_stop_after_72_hours_and_stay_visible(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: 503
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=72, minutes=1))
    make_due()
    drain()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.GIVEN_UP
    assert delivery.last_error == "HTTP 503"


@pytest.mark.parametrize("status", [404, 410])
def test_gone_inbox_is_given_up_at_once(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account, status: int
) -> None:
    sink.answer = lambda _r: status
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.GIVEN_UP and delivery.attempts == 1


def test_429_waits_as_told(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: (429, {"Retry-After": "600"})
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    wait = (Delivery.objects.get().next_attempt_at - timezone.now()).total_seconds()
    assert 590 < wait < 610


def test_401_double_knocks_with_the_other_scheme_and_remembers(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda r: 202 if "Signature-Input" in r.headers else 401
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    assert Delivery.objects.get().state == Delivery.State.SENT
    assert [("Signature-Input" in r.headers) for r in sink.received] == [False, True]
    assert RemoteHost.objects.get().signature_scheme == "rfc9421"
    assert verify(account, sink.received[-1]).scheme == "rfc9421"
    services.publish_post(publisher, account, Content(text="y"))
    drain()
    assert "Signature-Input" in sink.received[-1].headers and len(sink.received) == 3


def test_a_delivery_runs_once_even_if_its_task_runs_twice(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    from parvis.federation.delivery import deliver

    services.publish_post(publisher, account, Content(text="x"))
    drain()
    delivery = Delivery.objects.get()
    assert deliver.call(delivery.pk) == "not due"
    assert len(sink.received) == 1


def test_no_follower_no_delivery(sink: Sink, publisher: Staff, account: Account) -> None:
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    assert not Delivery.objects.exists() and sink.received == []


def test_blocked_domains_get_no_delivery(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    from parvis.federation.models import BlockedDomain

    BlockedDomain.objects.create(domain="127.0.0.1")
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    assert not Delivery.objects.exists() and sink.received == []


def test_a_host_failing_for_a_whole_window_is_skipped_until_it_speaks(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: 503
    services.publish_post(publisher, account, Content(text="x"))
    drain()
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=73))
    make_due()
    drain()
    host = RemoteHost.objects.get()
    assert host.unavailable_since is not None
    sink.answer = lambda _r: 202
    before = len(sink.received)
    services.publish_post(publisher, account, Content(text="y"))
    drain()
    skipped = Delivery.objects.order_by("-id").first()
    assert skipped.state == Delivery.State.GIVEN_UP and skipped.last_error == "host unavailable"
    assert len(sink.received) == before  # nothing sent to the dead host
    # The host speaks again (any signed inbound request): deliveries resume.
    RemoteHost.objects.update(unavailable_since=None, consecutive_failures=0)
    services.publish_post(publisher, account, Content(text="z"))
    drain()
    assert Delivery.objects.order_by("-id").first().state == Delivery.State.SENT


def test_create_then_delete_while_the_host_is_down_sends_the_delete_alone(
    sink: Sink, followers: list[RemoteActor], publisher: Staff, account: Account
) -> None:
    sink.answer = lambda _r: 503
    post = services.publish_post(publisher, account, Content(text="erreur"))
    drain()
    services.delete_post(publisher, post)
    drain()
    before = len(sink.received)
    sink.answer = lambda _r: 202
    make_due()
    drain()
    after_recovery = [json.loads(r.body)["type"] for r in sink.received[before:]]
    assert after_recovery == ["Delete"]
    create = Delivery.objects.get(activity__uri__endswith="/activity")
    assert create.state == Delivery.State.GIVEN_UP and create.last_error == "superseded by Delete"
    assert Delivery.objects.get(activity__uri__endswith="#delete").state == Delivery.State.SENT
