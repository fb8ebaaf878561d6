"""The task interface: retries with back-off, recovery of abandoned tasks, idempotence."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from parvis.core.tasks import RetryPolicy, background, recover_abandoned, run_pending

calls: list[int] = []


@background(retry=RetryPolicy(max_attempts=3, first_delay=60, factor=2))
def flaky(n: int) -> int:
    calls.append(n)
    raise RuntimeError("host unreachable")


@background()
def steady(n: int) -> int:
    calls.append(n)
    return n * 2


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def _make_due() -> None:
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(
        run_after=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_failing_task_is_retried_with_growing_delays_then_given_up() -> None:
    flaky.enqueue(7)
    delays = []
    for _ in range(2):
        before = timezone.now()
        assert run_pending() == 1
        row = DBTaskResult.objects.get()
        assert row.status == TaskResultStatus.READY
        delays.append((row.run_after - before).total_seconds())
        assert "RuntimeError" in row.exception_class_path
        _make_due()
    assert 59 < delays[0] < 62 and 119 < delays[1] < 122
    assert run_pending() == 1
    row = DBTaskResult.objects.get()
    assert row.status == TaskResultStatus.FAILED
    assert calls == [7, 7, 7]
    assert len(row.worker_ids) == 3


@pytest.mark.django_db(transaction=True)
def test_task_runs_and_stores_its_result() -> None:
    result = steady.enqueue(21)
    assert run_pending() == 1
    assert DBTaskResult.objects.get(pk=result.id).return_value == 42


@pytest.mark.django_db(transaction=True)
def test_task_abandoned_by_a_dead_worker_runs_again() -> None:
    steady.enqueue(5)
    row = DBTaskResult.objects.get()
    # A worker claimed it, then died before finishing.
    row.claim("dead-worker")
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert recover_abandoned(timedelta(minutes=5)) == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.READY
    assert run_pending() == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.SUCCESSFUL
    assert calls == [5]
    assert row.worker_ids[0] == "dead-worker" and len(row.worker_ids) == 2


@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_recovers_abandoned_tasks_itself() -> None:
    steady.enqueue(6)
    DBTaskResult.objects.get().claim("dead-worker")
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(hours=1))
    assert run_pending() == 1
    assert calls == [6]


@pytest.mark.django_db(transaction=True)
def test_recent_running_task_is_left_alone() -> None:
    steady.enqueue(1)
    DBTaskResult.objects.get().claim("busy-worker")
    assert recover_abandoned(timedelta(minutes=5)) == 0


@pytest.mark.django_db(transaction=True)
def test_unknown_task_path_fails_without_retry() -> None:
    steady.enqueue(1)
    DBTaskResult.objects.update(task_path="parvis.nowhere.gone")
    run_pending()
    assert DBTaskResult.objects.get().status == TaskResultStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_enqueue_is_part_of_the_callers_transaction() -> None:
    from django.db import transaction

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        steady.enqueue(3)
        raise Boom
    assert not DBTaskResult.objects.exists()


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(first_delay=30, factor=4, max_delay=3600)
    assert policy.delay(1) == timedelta(seconds=30)
    assert policy.delay(2) == timedelta(seconds=120)
    assert policy.delay(10) == timedelta(seconds=3600)
