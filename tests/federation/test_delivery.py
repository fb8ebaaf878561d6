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


# --- Batched, concurrent fan-out -----------------------------------------------------


def create_document(account: Account, name: str) -> dict:
    actor = f"https://social.blois.fr/@{account.handle}"
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/{name}#create",
        "type": "Create",
        "actor": actor,
        "object": {"id": f"{actor}/{name}", "type": "Note", "content": "<p>Alerte</p>"},
    }


def test_a_fan_out_runs_once_even_if_its_task_runs_twice(
    sink: Sink, publisher: Staff, account: Account
) -> None:
    from parvis.federation.delivery import fan_out, queue_activity

    inboxes = [sink.url(f"/users/u{i}/inbox") for i in range(5)]
    queue_activity(account, create_document(account, "twice"), inboxes)
    activity_id = Delivery.objects.values_list("activity_id", flat=True).first()
    assert fan_out.call(activity_id)["sent"] == 5
    assert fan_out.call(activity_id) == {"sent": 0, "retry": 0, "given_up": 0, "deferred": 0}
    assert len(sink.received) == 5
    drain()  # the task queued by queue_activity finds nothing due
    assert len(sink.received) == 5


def test_a_large_fan_out_goes_out_in_batches_each_inbox_once(
    sink: Sink, account: Account, monkeypatch
) -> None:
    from parvis.federation import delivery

    monkeypatch.setattr(delivery, "CLAIM_BATCH", 20)
    inboxes = [sink.url(f"/users/u{i}/inbox") for i in range(130)]
    assert delivery.queue_activity(account, create_document(account, "many"), inboxes) == 130
    # Queueing the same activity again adds nothing (idempotent).
    assert delivery.queue_activity(account, create_document(account, "many"), inboxes) == 0
    drain()
    paths = sorted(r.path for r in sink.received)
    assert paths == sorted(f"/users/u{i}/inbox" for i in range(130))
    assert Delivery.objects.filter(state=Delivery.State.SENT, attempts=1).count() == 130
    for request in sink.received[::13]:
        assert verify(account, request).key_id.endswith("#main-key")


def test_a_black_holed_host_does_not_hold_the_others(
    sink: Sink, account: Account, settings, monkeypatch
) -> None:
    """A host that accepts and never answers costs its own deliveries one deadline."""
    import socket as sockets
    import time

    from parvis.federation import delivery

    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32", "localhost"]
    monkeypatch.setattr(delivery, "DELIVERY_TIMEOUT", 1.0)
    hole = sockets.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    dead = [f"http://localhost:{hole.getsockname()[1]}/users/d{i}/inbox" for i in range(4)]
    alive = [sink.url(f"/users/u{i}/inbox") for i in range(40)]
    try:
        delivery.queue_activity(account, create_document(account, "hole"), dead + alive)
        started = time.monotonic()
        drain()
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert len(sink.received) == 40
    # The two first dead deliveries (two slots per host) waited for the deadline; the
    # host's other ones were not attempted in that run and wait for their retry.
    assert elapsed < 3
    stuck = Delivery.objects.filter(inbox__in=dead).order_by("id")
    assert all(d.state == Delivery.State.PENDING for d in stuck)
    assert sorted(d.attempts for d in stuck) == [0, 0, 1, 1]
    assert {d.last_error.split(":")[0] for d in stuck if d.attempts == 0} == {"not attempted"}
    host = RemoteHost.objects.get(domain="localhost")
    assert host.consecutive_failures == 2 and host.last_failure_at is not None
    assert RemoteHost.objects.get(domain="127.0.0.1").consecutive_failures == 0


def test_a_failing_host_gets_no_new_first_attempt_until_its_back_off_passed(
    sink: Sink, account: Account
) -> None:
    from parvis.federation.delivery import BREAKER_AFTER, queue_activity

    RemoteHost.objects.create(
        domain="127.0.0.1", consecutive_failures=BREAKER_AFTER, last_failure_at=timezone.now()
    )
    queue_activity(account, create_document(account, "breaker"), [sink.url("/inbox")])
    drain()
    delivery = Delivery.objects.get()
    assert sink.received == [] and delivery.attempts == 0
    assert delivery.state == Delivery.State.PENDING
    assert 55 < (delivery.next_attempt_at - timezone.now()).total_seconds() < 65
    make_due()
    RemoteHost.objects.update(last_failure_at=timezone.now() - timedelta(minutes=2))
    drain()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and len(sink.received) == 1
    assert RemoteHost.objects.get().consecutive_failures == 0


# --- D5: a worker killed mid-fan-out loses nothing -------------------------------------

D5_SETUP = """
import json, sys
import django
django.setup()
from parvis.federation.delivery import queue_activity
from parvis.identity.models import AccountKind, Domain, Institution, InstitutionKind
from parvis.identity.services import create_account
domain = Domain.objects.create(name="social.blois.fr")
institution = Institution.objects.create(kind=InstitutionKind.COMMUNE, name="Blois")
account = create_account(domain=domain, handle="ville", kind=AccountKind.INSTITUTION,
                         display_name="Ville de Blois", institution=institution)
print(queue_activity(account, json.loads(sys.argv[1]), json.loads(sys.argv[2])))
"""


def test_d5_a_worker_killed_mid_fan_out_loses_nothing(tmp_path, account: Account) -> None:
    """SIGKILL a real `parvis worker` twice while it fans out; the third one finishes.

    Every inbox receives the activity; one killed at any instant may have sent some
    deliveries without recording them, so each inbox gets it at most once more per kill.
    """
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    total, kills = 300, 2
    database = tmp_path / "d5.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "parvis.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "PARVIS_DATA_DIR": str(tmp_path),
        "PARVIS_SECRET_KEY": "d5-secret-key-for-a-throw-away-database",
        "PARVIS_HTTP_ALLOW_PRIVATE": "127.0.0.1/32",
        "PARVIS_LOG_LEVEL": "WARNING",
        # A killed worker's task is handed over after 1 s instead of 5 min.
        "PARVIS_TASK_LEASE_SECONDS": "1",
    }
    python = [sys.executable, "-m", "parvis.core.cli"]
    subprocess.run([*python, "migrate", "--no-input"], env=env, check=True, capture_output=True)

    def slow_answer(_request: Received) -> int:
        time.sleep(0.01)  # ~150 deliveries a second with two per host: time to kill
        return 202

    def received() -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for request in list(sink.received):
            key = (json.loads(request.body)["id"], request.path)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def wait_for(condition, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < deadline, f"timed out; received {len(received())}"
            time.sleep(0.02)

    def rows(sql: str) -> list[tuple]:
        with sqlite3.connect(database) as db:
            return db.execute(sql).fetchall()

    with running_sink() as sink:
        sink.answer = slow_answer
        inboxes = [sink.url(f"/users/u{i}/inbox") for i in range(total)]
        document = create_document(account, "d5")
        setup = subprocess.run(
            [sys.executable, "-c", D5_SETUP, json.dumps(document), json.dumps(inboxes)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert setup.stdout.strip() == str(total)
        worker_command = [*python, "worker", "--queue", "federation", "--interval", "0.1"]
        for kill in range(1, kills + 1):
            worker = subprocess.Popen(worker_command, env=env, start_new_session=True)
            wait_for(lambda kill=kill: len(received()) >= total * kill // (kills + 1))
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            claimed = rows(
                "SELECT count(*) FROM federation_delivery WHERE state = 'pending' "
                "AND next_attempt_at > datetime('now', '+30 seconds')"
            )[0][0]
            assert claimed > 0  # killed while holding leased deliveries
            # Time passes: the dead worker's leases (and its task's) run out.
            rows("UPDATE federation_delivery SET next_attempt_at = '2000-01-01 00:00:00'")
            time.sleep(1.1)
        worker = subprocess.Popen(worker_command, env=env, start_new_session=True)
        try:
            wait_for(lambda: len(received()) == total)
            wait_for(
                lambda: (
                    rows("SELECT count(*) FROM federation_delivery WHERE state = 'sent'")[0][0]
                    == total
                )
            )
        finally:
            os.kill(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    counts = received()
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nD5: {total} deliveries, {kills} SIGKILLs, 0 lost, {duplicates} sent twice")
    assert sorted(path for _id, path in counts) == sorted(urlsplit(i).path for i in inboxes)
    assert max(counts.values()) <= 1 + kills
