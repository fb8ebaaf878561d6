"""The inbound drain: stored activities claimed in batches by the worker, each applied
once, retried after a failure, given up in the end, and left to another worker when
the one that claimed them died."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from parvis.core.tasks import make_worker, run_pending
from parvis.federation import inbox
from parvis.federation.models import InboundActivity, RemoteHost
from parvis.identity.models import Account, Staff
from parvis.interactions.models import Reaction
from parvis.publishing import services
from parvis.publishing.models import Post
from parvis.publishing.services import Content
from tests.federation.signed import VILLE, Remote, post
from tests.threads import in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def store_likes(remote: Remote, target: Post, count: int) -> list[int]:
    """``count`` distinct Likes of ``target``, received signed through the shared inbox."""
    note = f"{VILLE}/{target.pk}"
    for n in range(count):
        activity = remote.activity("Like", note, suffix=f"like-{n}")
        response = post(activity, key_id=remote.key_id, key=remote.key)
        assert response.status_code == 202, response.content
    return list(InboundActivity.objects.order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def published(publisher: Staff, account: Account) -> Post:
    return services.publish_post(publisher, account, Content(text="Réunion publique jeudi."))


def test_the_inbox_stores_the_activity_and_queues_no_task(remote: Remote, published: Post) -> None:
    tasks = DBTaskResult.objects.count()
    store_likes(remote, published, 3)
    assert InboundActivity.objects.filter(processed_at__isnull=True).count() == 3
    assert DBTaskResult.objects.count() == tasks


def test_one_claim_takes_a_batch_in_arrival_order(remote: Remote, published: Post) -> None:
    ids = store_likes(remote, published, 7)
    assert inbox.process_inbound(5) == 5
    done = InboundActivity.objects.filter(processed_at__isnull=False)
    assert sorted(done.values_list("pk", flat=True)) == ids[:5]
    assert set(done.values_list("outcome", flat=True)) == {"favourite recorded"}
    assert inbox.process_inbound(5) == 2
    assert inbox.process_inbound(5) == 0
    assert Reaction.objects.count() == 1  # one actor favourites a post once
    assert set(InboundActivity.objects.values_list("attempts", flat=True)) == {1}


def test_the_worker_drains_until_nothing_is_due(remote: Remote, published: Post) -> None:
    store_likes(remote, published, inbox.INBOUND_BATCH + 3)
    assert run_pending() >= inbox.INBOUND_BATCH + 3
    assert not InboundActivity.objects.filter(processed_at__isnull=True).exists()
    assert set(InboundActivity.objects.values_list("outcome", flat=True)) == {"favourite recorded"}


def test_a_worker_of_other_queues_leaves_activities_alone(remote: Remote, published: Post) -> None:
    store_likes(remote, published, 2)
    worker = make_worker(queues=["default"], once=True, interval=0)
    worker.run()
    assert InboundActivity.objects.filter(processed_at__isnull=True).count() == 2
    worker = make_worker(queues=["federation"], once=True, interval=0)
    worker.run()
    assert not InboundActivity.objects.filter(processed_at__isnull=True).exists()


def test_a_leased_activity_waits_for_its_lease_then_is_applied_once(
    remote: Remote, published: Post
) -> None:
    (pk,) = store_likes(remote, published, 1)
    # A worker claimed it, then died before applying it.
    InboundActivity.objects.filter(pk=pk).update(
        claimed_until=timezone.now() + timedelta(minutes=5), attempts=1
    )
    assert inbox.process_inbound(10) == 0
    InboundActivity.objects.filter(pk=pk).update(claimed_until=timezone.now())
    assert inbox.process_inbound(10) == 1
    row = InboundActivity.objects.get(pk=pk)
    assert row.processed_at is not None and row.attempts == 2 and row.claimed_until is None
    # The dead worker's batch, replayed late, changes nothing.
    assert inbox.handle_inbound(row) == "already processed"
    assert Reaction.objects.count() == 1


def test_a_failing_activity_is_retried_later_then_given_up(
    remote: Remote, published: Post, monkeypatch
) -> None:
    ids = store_likes(remote, published, 2)

    def broken(activity: dict, actor: object) -> str:
        if activity["id"].endswith("like-0"):
            raise RuntimeError("handler bug")
        return "favourite ignored"

    monkeypatch.setitem(inbox.HANDLERS, "Like", broken)
    assert inbox.process_inbound(10) == 2
    failed, fine = (InboundActivity.objects.get(pk=pk) for pk in ids)
    assert fine.processed_at is not None and fine.outcome == "favourite ignored"
    assert failed.processed_at is None
    assert failed.outcome == "attempt 1 failed: RuntimeError: handler bug"
    assert failed.claimed_until > timezone.now() + timedelta(seconds=20)
    assert inbox.process_inbound(10) == 0  # not due before its back-off
    for attempt in range(2, inbox.INBOUND_RETRY.max_attempts + 1):
        InboundActivity.objects.filter(pk=failed.pk).update(claimed_until=timezone.now())
        assert inbox.process_inbound(10) == 1
        failed.refresh_from_db()
        assert failed.attempts == attempt
    assert failed.processed_at is not None
    assert failed.outcome == "failed: RuntimeError: handler bug"
    assert inbox.process_inbound(10) == 0


def test_two_workers_claim_disjoint_batches(remote: Remote, published: Post) -> None:
    store_likes(remote, published, 40)
    first, second = in_threads(lambda: inbox._claim(25), 2)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(InboundActivity.objects.values_list("pk", flat=True))


def test_a_host_found_up_is_not_asked_about_again_for_a_while(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        RemoteHost.heard_from("mastodon.example")
        RemoteHost.heard_from("mastodon.example")
    with django_assert_num_queries(1):
        RemoteHost.heard_from("pleroma.example")
