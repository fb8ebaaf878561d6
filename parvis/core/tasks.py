"""The one home of background work.

Domain apps declare their handlers with :func:`background` and enqueue them with
``handler.enqueue(...)`` inside the transaction that writes the domain change:
the task row lives in the same database (django-tasks' database backend), so the
change and its follow-up work commit together or not at all (transactional
outbox). See docs/decisions/0001-task-interface.md.

This module adds what the backend lacks and every handler needs, defined once:

* retries with exponential back-off (the failed run is put back in the queue
  with a later ``run_after``; after ``max_attempts`` it is marked failed);
* recovery of tasks whose worker died (a ``RUNNING`` row older than the lease is
  made ready again), which makes delivery at-least-once: handlers must be
  idempotent;
* drains (:func:`drain`): work whose queue is a domain table rather than one task
  row per item. A busy server receives thousands of activities a minute; a task row
  per activity doubled the writes of every inbox request and cost the worker a
  claim and a result per item. A drain claims a batch of its own rows with one
  statement, and the worker calls it between tasks until it finds nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.db.models import Model
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.base import Task
from django_tasks_db.management.commands.db_worker import Worker as DBWorker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing task is tried again."""

    max_attempts: int = 8
    first_delay: float = 30.0
    factor: float = 4.0
    max_delay: float = 6 * 3600.0

    def delay(self, attempt: int) -> timedelta:
        """Return the wait before the try that follows failed try number ``attempt``."""
        seconds = min(self.first_delay * self.factor ** (attempt - 1), self.max_delay)
        return timedelta(seconds=seconds)


_policies: dict[str, RetryPolicy] = {}


def background(
    *,
    queue: str = "default",
    priority: int = 0,
    retry: RetryPolicy | None = None,
) -> Callable[[Callable[P, T]], Task[P, T]]:
    """Declare a background handler.

    Arguments and keyword arguments must be JSON-serialisable (ids, not
    objects). The handler may run more than once for one enqueue, so it must be
    idempotent.
    """

    def decorate(function: Callable[P, T]) -> Task[P, T]:
        declared = task(queue_name=queue, priority=priority)(function)
        _policies[declared.module_path] = retry or RetryPolicy()
        return declared

    return decorate


def policy_for(task_path: str) -> RetryPolicy:
    """Return the retry policy registered for a task path."""
    return _policies.get(task_path, RetryPolicy())


def recover_abandoned(lease: timedelta | None = None) -> int:
    """Make tasks whose worker vanished runnable again; return how many."""
    lease = lease or timedelta(seconds=settings.PARVIS_TASK_LEASE_SECONDS)
    cutoff = timezone.now() - lease
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(status=TaskResultStatus.READY, run_after=timezone.now())


@dataclass(frozen=True)
class Drain:
    """A batch handler over a domain table, run by workers serving ``queue``."""

    name: str
    queue: str
    handle: Callable[[int], int]
    batch: int


_drains: dict[str, Drain] = {}


def drain(
    *, queue: str = "default", batch: int = 100
) -> Callable[[Callable[[int], int]], Callable[[int], int]]:
    """Declare a drain: ``handle(limit)`` claims up to ``limit`` items, handles them, and
    returns how many it claimed (0 when none is due).

    The drain owns its rows' claims, leases and retries: a worker that dies
    mid-batch must leave its claimed items to be claimed again once their lease
    ends, and an item that fails must be put back with a delay or given up. Items
    are written, like tasks, in the transaction of the change that calls for them.
    """

    def register(handle: Callable[[int], int]) -> Callable[[int], int]:
        name = f"{handle.__module__}.{handle.__qualname__}"
        _drains[name] = Drain(name, queue, handle, batch)
        return handle

    return register


def columns(model: type[Model], *names: str) -> tuple[str, ...]:
    """The quoted column names of ``model``'s fields ``names``, for :func:`claim_rows`."""
    quote = connection.ops.quote_name
    return tuple(quote(model._meta.get_field(name).column) for name in names)


def claim_rows(
    model: type[Model],
    *,
    assignments: str,
    assignment_params: Sequence[Any],
    where: str,
    where_params: Sequence[Any],
    order_by: str,
    limit: int,
) -> list[Any]:
    """Lease up to ``limit`` rows of ``model`` with one ``UPDATE … RETURNING``; their keys.

    The rows are those matching ``where``, first in ``order_by`` order; ``assignments``
    (the lease: a time, an attempt count) is applied to each. The fragments name
    columns quoted from the model's metadata (:func:`columns`) and
    take their values as ``%s`` parameters. The statement names exactly the rows this
    caller leased, so that two workers never take the same row: on PostgreSQL the
    rows another worker is leasing are skipped (``SKIP LOCKED``); SQLite has one
    writer at a time. The ORM cannot express it.
    """
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    pick = f"SELECT {pk} FROM {table} WHERE {where} ORDER BY {order_by} LIMIT %s"  # noqa: S608
    if connection.vendor == "postgresql":
        # ARRAY(…) runs the pick once; through "IN (…)" PostgreSQL may run it again
        # for each row updated, and with SKIP LOCKED each run picks other rows:
        # more than ``limit`` rows were leased.
        sql = (
            f"UPDATE {table} SET {assignments} "  # noqa: S608
            f"WHERE {pk} = ANY(ARRAY({pick} FOR UPDATE SKIP LOCKED)) RETURNING {pk}"
        )
        params = [*assignment_params, *where_params, limit]
    else:
        sql = (
            f"UPDATE {table} SET {assignments} "  # noqa: S608
            f"WHERE {pk} IN ({pick}) AND {where} RETURNING {pk}"
        )
        params = [*assignment_params, *where_params, limit, *where_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


class Worker(DBWorker):
    """django-tasks-db's worker with retries, back-off and abandoned-task recovery."""

    def __init__(self, *, once: bool = False, recover_every: float = 30.0, **kwargs: Any) -> None:
        # The parent loop runs in batch mode (drain what is due, then return) so
        # that this loop can recover abandoned tasks between two drains.
        super().__init__(batch=True, startup_delay=False, excluded_queue_names=[], **kwargs)
        self.once = once
        self.recover_every = recover_every
        self._last_recovery = 0.0

    def run(self) -> None:
        """Process due tasks and drains until stopped (or until nothing is due, with
        ``once``)."""
        while self.running:
            if time.monotonic() - self._last_recovery >= self.recover_every:
                try:
                    recover_abandoned()
                except OperationalError as exc:  # SQLite busy: recover next round
                    logger.warning("abandoned tasks not recovered: %s", exc)
                self._last_recovery = time.monotonic()
            before = self._run_tasks
            super().run()
            drained = self.run_drains()
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return
            if drained or (self.once and self._run_tasks > before):
                # More may be due: a batch was full, or work just done queued more.
                continue
            if self.once:
                return
            if self.running:
                time.sleep(self.interval)

    def run_drains(self) -> int:
        """Give each drain of this worker's queues one batch; return the items claimed.

        One batch each, not until empty: tasks due meanwhile (deliveries the items
        queued) run before the next batch.
        """
        claimed = 0
        for registered in list(_drains.values()):
            if not self.running:
                break
            if not self.process_all_queues and registered.queue not in self.queue_names:
                continue
            try:
                count = registered.handle(registered.batch)
            except OperationalError as exc:
                # SQLite's single writer was busy past the timeout: the rows stay
                # unclaimed (or leased) and the next round tries again.
                logger.warning("drain %s could not claim: %s", registered.name, exc)
                continue
            claimed += count
            self._run_tasks += count
        return claimed

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """Run one task; on failure, put it back with a delay until attempts run out."""
        attempt = len(db_task_result.worker_ids)
        policy = policy_for(db_task_result.task_path)
        try:
            handler = db_task_result.task
        except Exception:
            # An unknown task path cannot succeed later: the parent marks it failed.
            super().run_task(db_task_result)
            return
        self.running_task = True
        try:
            result = db_task_result.task_result
            db_task_result.set_successful(handler.call(*result.args, **result.kwargs))
        except Exception as exc:
            if attempt < policy.max_attempts:
                logger.warning(
                    "task %s (%s) failed on attempt %d, retrying: %r",
                    db_task_result.id,
                    db_task_result.task_path,
                    attempt,
                    exc,
                )
                db_task_result.status = TaskResultStatus.READY
                db_task_result.run_after = timezone.now() + policy.delay(attempt)
                db_task_result.exception_class_path = (
                    f"{type(exc).__module__}.{type(exc).__qualname__}"
                )
                db_task_result.traceback = "".join(traceback.format_exception(exc))
                db_task_result.save(
                    update_fields=["status", "run_after", "exception_class_path", "traceback"]
                )
            else:
                logger.exception("task %s gave up after %d attempts", db_task_result.id, attempt)
                db_task_result.set_failed(exc)
        finally:
            self.running_task = False
            self._run_tasks += 1


def make_worker(
    *, queues: list[str] | None = None, interval: float = 1.0, once: bool = False
) -> Worker:
    """Build a worker over the given queues (every queue when None)."""
    return Worker(
        queue_names=queues or ["*"],
        interval=interval,
        once=once,
        backend_name="default",
        max_tasks=None,
        worker_id=f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"[:64],
    )


def run_pending() -> int:
    """Run, in this thread, every task that is due now; return how many ran.

    Tests and ``parvis worker --once`` use it to drain the queue.
    """
    worker = make_worker(once=True, interval=0)
    worker.run()
    close_old_connections()
    return worker._run_tasks
