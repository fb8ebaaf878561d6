"""Sending activities: stored once, one Delivery row per inbox, sent in concurrent batches.

A Delivery keeps its own state (pending, sent, given up), its attempts and the
time of the next one, so staff can see what reached whom, and so that a worker
killed at any instant loses nothing: what it had not recorded as sent is sent
again (at least once).

One ``fan_out`` task per activity does the sending. A run claims a batch of due
deliveries with one conditional UPDATE (a lease: other runs leave them alone),
hands them to the sender of :mod:`parvis.federation.sending`, which signs and posts
them concurrently from an asyncio event loop in a helper thread (the guarded
:class:`~parvis.core.http_async.AsyncSession`: connections reused per host, a global
and a per-host cap on requests in flight, a deadline per request), and records
outcomes in bulk as they arrive, while the next batches are claimed. Slow hosts only
hold their own slots; the database stays in the task's thread, and so does this
module: queueing, claiming, recording and the retry policy.
When nothing is due any more, the run enqueues the next one at the time of the
earliest retry: the task queue is the alarm clock, the rows are the truth.

Retries: 1 min, 2 min, 4 min… capped at 6 h, given up after 72 hours or 20
attempts; 400/403/404/405/410/413/422 are given up at once; 429 waits what
``Retry-After`` says; a 401 is retried once with the other signature scheme,
remembered per host. A host whose last attempts failed gets no new first
attempt until its back-off has passed (circuit breaker), and a host that failed
for a whole retry window is skipped until it speaks to us again.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone

from parvis.core.bulk import insert_rows
from parvis.core.tasks import RetryPolicy, background, claim_rows, columns
from parvis.federation import ids
from parvis.federation.keys import keys_for, rsa_private_key
from parvis.federation.models import (
    BlockedDomain,
    Delivery,
    OutboundActivity,
    RemoteHost,
)
from parvis.federation.sending import _Job, _Outcome, _Sender
from parvis.identity.models import Account

logger = logging.getLogger(__name__)

# 60 s, 2 min, 4 min… capped at 6 h: the 20 attempts span about 75 hours.
RETRY = RetryPolicy(max_attempts=20, first_delay=60, factor=2, max_delay=6 * 3600)
GIVE_UP_AFTER = timedelta(hours=72)
PERMANENT_FAILURES = {400, 403, 404, 405, 410, 413, 422}
DELIVERY_TIMEOUT = 20.0
# While a run holds claimed deliveries, other runs leave them alone this long; the
# run renews the lease of those still in flight every LEASE_RENEWAL seconds.
ATTEMPT_LEASE = timedelta(minutes=2)
LEASE_RENEWAL = 30.0
# Deliveries claimed per UPDATE: large enough to amortise the round trip, small
# enough that a killed worker has little claimed and unrecorded.
CLAIM_BATCH = 200
# A run stops claiming after this long and leaves the rest to a new run, so that a
# huge fan-out does not keep a worker from the other tasks of its queues.
RUN_SLICE = 60.0
# A request still unanswered after this long counts as slow: slow ones may fill the
# global cap, but the healthy pipeline stays at most 2 × CLAIM_BATCH deep.
SLOW_AFTER = 1.0
# After this many consecutive failures, a host gets no new first attempt until
# the back-off of its last failure has passed (its retries keep their own times).
BREAKER_AFTER = 3
# Sockets kept free for the database, logs and idle keep-alive connections.
_SPARE_FILES = 512


@transaction.atomic
def queue_activity(account: Account, document: dict[str, Any], inboxes: list[str]) -> int:
    """Store ``document`` once and a pending Delivery per inbox; return how many were new.

    Idempotent: queueing the same activity id again adds no delivery twice. The
    ``fan_out`` task is enqueued in the same transaction.
    """
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    activity, _created = OutboundActivity.objects.get_or_create(
        uri=document["id"], defaults={"actor": account, "body": body}
    )
    host_of = {inbox: (urlsplit(inbox).hostname or "") for inbox in inboxes}
    blocked = _blocked(set(host_of.values()))
    inboxes = [inbox for inbox in inboxes if host_of[inbox] not in blocked]
    domains = sorted({host_of[inbox] for inbox in inboxes})
    insert_rows(RemoteHost, ["domain"], ([d] for d in domains), unique=["domain"])
    host_ids: dict[str, int] = {}
    for chunk in _chunks(domains, 5000):  # SQLite caps the parameters of one query
        host_ids.update(RemoteHost.objects.filter(domain__in=chunk).values_list("domain", "pk"))
    existing = set(activity.deliveries.values_list("inbox", flat=True))
    new = [inbox for inbox in dict.fromkeys(inboxes) if inbox not in existing]
    insert_rows(
        Delivery,
        ["activity", "inbox", "host"],
        ((activity.pk, inbox, host_ids[host_of[inbox]]) for inbox in new),
        unique=["activity", "inbox"],
    )
    # A host that failed for a whole retry window is not tried again until it
    # speaks to us (an inbound signed request clears the mark).
    activity.deliveries.filter(
        state=Delivery.State.PENDING, attempts=0, host__unavailable_since__isnull=False
    ).update(state=Delivery.State.GIVEN_UP, last_error="host unavailable")
    if activity.deliveries.filter(state=Delivery.State.PENDING, attempts=0).exists():
        fan_out.enqueue(activity.pk)
    return len(new)


def _blocked(hosts: set[str]) -> set[str]:
    """The hosts that a BlockedDomain covers (itself or a parent domain), in few queries."""
    suffixes: dict[str, list[str]] = {}
    for host in hosts:
        labels = host.lower().rstrip(".").split(".")
        suffixes[host] = [".".join(labels[i:]) for i in range(len(labels))]
    candidates = sorted({s for names in suffixes.values() for s in names})
    found: set[str] = set()
    for chunk in _chunks(candidates, 5000):
        found.update(
            BlockedDomain.objects.filter(domain__in=chunk).values_list("domain", flat=True)
        )
    return {host for host, names in suffixes.items() if found.intersection(names)}


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@background(queue="federation", retry=RetryPolicy(max_attempts=20, first_delay=30, factor=2))
def fan_out(activity_id: int) -> dict[str, int]:
    """Send the due deliveries of an activity, then schedule the next run (safe to run twice).

    Returns how many deliveries this run sent, scheduled for a retry, gave up or
    deferred.
    """
    return _Run(activity_id).execute()


@background(queue="federation", retry=RetryPolicy(max_attempts=3, first_delay=30))
def deliver(delivery_id: int) -> str:
    """Attempt one delivery if it is still pending and due (safe to run twice).

    Kept for the tasks queued one per delivery before fan-outs were batched; new
    deliveries go through :func:`fan_out`.
    """
    due = Delivery.objects.filter(
        pk=delivery_id,
        state=Delivery.State.PENDING,
        next_attempt_at__lte=timezone.now() + timedelta(seconds=1),
    ).values_list("activity_id", flat=True)
    activity_id = due.first()
    if activity_id is None:
        return "not due"
    _Run(activity_id, only=delivery_id).execute()
    return Delivery.objects.values_list("state", flat=True).get(pk=delivery_id)


# --- One run: claim, send, record ---------------------------------------------------


class _Run:
    """One run of the fan-out of an activity (or of one delivery, for ``deliver``)."""

    def __init__(self, activity_id: int, only: int | None = None) -> None:
        self.activity_id = activity_id
        self.only = only
        self.counts = {"sent": 0, "retry": 0, "given_up": 0, "deferred": 0}

    def execute(self) -> dict[str, int]:
        activity = (
            OutboundActivity.objects.select_related("actor__domain")
            .filter(pk=self.activity_id)
            .first()
        )
        if activity is None:
            return self.counts
        first, claimed = self._claim(CLAIM_BATCH)
        if first:
            actor = activity.actor
            concurrency, per_host = _limits()
            sender = _Sender(
                body=activity.body.encode(),
                key=rsa_private_key(keys_for(actor)),
                key_id=ids.rsa_key_id(actor),
                domain=actor.domain.name if actor.domain_id else None,
                concurrency=concurrency,
                per_host=per_host,
                timeout=DELIVERY_TIMEOUT,
                slow_after=SLOW_AFTER,
            )
            sender.start()
            try:
                more = self.only is None and claimed == CLAIM_BATCH
                self._pump(sender, first, more, concurrency)
            finally:
                sender.close()
        self._schedule_next()
        return self.counts

    def _pump(self, sender: _Sender, first: list[_Job], claiming: bool, concurrency: int) -> None:
        """Keep the sender fed with claimed deliveries and record what comes back."""
        outstanding: dict[int, _Job] = {}
        stop_claiming_at = time.monotonic() + RUN_SLICE
        renewed_at = time.monotonic()
        self._submit(sender, first, outstanding)
        while claiming or outstanding:
            room = 0
            if claiming and time.monotonic() >= stop_claiming_at:
                claiming = False
            if claiming:
                healthy = len(outstanding) - sender.slow
                room = min(concurrency - len(outstanding), 2 * CLAIM_BATCH - healthy, CLAIM_BATCH)
                if room >= min(CLAIM_BATCH // 2, concurrency) or (room > 0 and not outstanding):
                    jobs, claimed = self._claim(room)
                    # Fewer than asked: nothing else is due now.
                    claiming = claimed == room
                    self._submit(sender, jobs, outstanding)
                else:
                    room = 0
            # Group commit: wait for at least one outcome (unless there was room to
            # claim more), then record everything that arrived meanwhile at once.
            outcomes = sender.collect(timeout=0 if room else 0.5)
            for outcome in outcomes:
                outstanding.pop(outcome.job.pk, None)
            if outcomes:
                self._record(outcomes)
            if outstanding and time.monotonic() - renewed_at >= LEASE_RENEWAL:
                # Still queued behind a slow host or in flight: keep them ours.
                Delivery.objects.filter(
                    pk__in=list(outstanding), state=Delivery.State.PENDING
                ).update(next_attempt_at=timezone.now() + ATTEMPT_LEASE)
                renewed_at = time.monotonic()

    def _submit(self, sender: _Sender, jobs: list[_Job], outstanding: dict[int, _Job]) -> None:
        for job in jobs:
            outstanding[job.pk] = job
        sender.submit(jobs)

    def _claim(self, limit: int) -> tuple[list[_Job], int]:
        """Lease up to ``limit`` due deliveries (:func:`~parvis.core.tasks.claim_rows`).

        Returns those to send (see :meth:`_screen`) and how many rows were leased.
        """
        now = timezone.now()
        pk, activity, state, next_at = columns(
            Delivery, "id", "activity", "state", "next_attempt_at"
        )
        adapt = connection.ops.adapt_datetimefield_value
        only = f" AND {pk} = %s" if self.only is not None else ""
        # The literal state and the unary plus on the activity make both databases walk
        # the partial index of due deliveries ("delivery_due") in order and stop after
        # ``limit`` rows; through the activity's index, each claim would read and sort
        # every delivery of a 20,000-inbox fan-out again.
        pending = f"{state} = '{Delivery.State.PENDING.value}'"
        claimed = claim_rows(
            Delivery,
            assignments=f"{next_at} = %s",
            assignment_params=[adapt(now + ATTEMPT_LEASE)],
            where=f"{pending} AND {next_at} <= %s AND +{activity} = %s{only}",
            where_params=[
                adapt(now + timedelta(seconds=1)),
                self.activity_id,
                *([self.only] if self.only is not None else []),
            ],
            order_by=f"{next_at}, {pk}",
            limit=limit,
        )
        if not claimed:
            return [], 0
        rows = Delivery.objects.filter(pk__in=claimed).values_list(
            "pk",
            "inbox",
            "host_id",
            "host__domain",
            "host__signature_scheme",
            "attempts",
            "created_at",
            "host__consecutive_failures",
            "host__last_failure_at",
            "host__unavailable_since",
        )
        return self._screen(rows, now), len(claimed)

    def _screen(self, rows: Iterable[tuple[Any, ...]], now: datetime) -> list[_Job]:
        """Drop first attempts to hosts that are unavailable or whose breaker is open."""
        jobs: list[_Job] = []
        unavailable: list[int] = []
        deferred: dict[datetime, list[int]] = defaultdict(list)
        for pk, inbox, host_id, host, scheme, attempts, created, failures, failed_at, gone in rows:
            if attempts == 0 and gone is not None:
                unavailable.append(pk)
                continue
            if attempts == 0 and failures >= BREAKER_AFTER and failed_at is not None:
                reopens = failed_at + RETRY.delay(failures - BREAKER_AFTER + 1)
                if reopens > now:
                    deferred[reopens].append(pk)
                    continue
            jobs.append(_Job(pk, inbox, host_id, host, scheme, attempts, created))
        pending = Delivery.objects.filter(state=Delivery.State.PENDING)
        if unavailable:
            pending.filter(pk__in=unavailable).update(
                state=Delivery.State.GIVEN_UP, last_error="host unavailable"
            )
            self.counts["given_up"] += len(unavailable)
        for reopens, pks in deferred.items():
            pending.filter(pk__in=pks).update(
                next_attempt_at=reopens, last_error="host failing: waiting for its back-off"
            )
            self.counts["deferred"] += len(pks)
        return jobs

    def _record(self, outcomes: list[_Outcome]) -> None:
        """Write the outcomes of many attempts in a few statements (one transaction)."""
        now = timezone.now()
        sent: dict[int, list[int]] = defaultdict(list)
        refused: dict[int, list[int]] = defaultdict(list)
        skipped: dict[tuple[datetime, str], list[int]] = defaultdict(list)
        failed: list[Delivery] = []
        # Per host, in the order outcomes arrived: [answered 2xx, failures since].
        health: dict[int, list[Any]] = {}
        switched: dict[str, set[int]] = defaultdict(set)
        exhausted: set[int] = set()
        for outcome in outcomes:
            job = outcome.job
            if outcome.skipped:
                # Not attempted (its host failed earlier in this run): no attempt is
                # counted, it is due again after the usual back-off.
                when = now + RETRY.delay(max(job.attempts, 1))
                skipped[(when, outcome.skipped)].append(job.pk)
                continue
            if outcome.switched_to:
                switched[outcome.switched_to].add(job.host_id)
            status = outcome.status
            if status is not None and status < 300:
                sent[status].append(job.pk)
                health[job.host_id] = [True, 0]
                continue
            if status in PERMANENT_FAILURES:
                refused[status].append(job.pk)
                continue
            health.setdefault(job.host_id, [False, 0])[1] += 1
            failed.append(self._failure(job, outcome, now, exhausted))
        pending = Delivery.objects.filter(state=Delivery.State.PENDING)
        with transaction.atomic():
            # Rows no longer pending (a Delete superseded them meanwhile) keep their state.
            for status, pks in sent.items():
                pending.filter(pk__in=pks).update(
                    state=Delivery.State.SENT,
                    sent_at=now,
                    attempts=F("attempts") + 1,
                    last_status=status,
                    last_error="",
                )
            for status, pks in refused.items():
                pending.filter(pk__in=pks).update(
                    state=Delivery.State.GIVEN_UP,
                    attempts=F("attempts") + 1,
                    last_status=status,
                    last_error=f"HTTP {status}: permanent refusal",
                )
            for (when, reason), pks in skipped.items():
                pending.filter(pk__in=pks).update(next_attempt_at=when, last_error=reason[:1000])
            if failed:
                fields = ["state", "attempts", "last_status", "last_error", "next_attempt_at"]
                pending.bulk_update(failed, fields, batch_size=500)
            self._record_hosts(health, switched, exhausted, now)
        self.counts["sent"] += sum(len(pks) for pks in sent.values())
        self.counts["given_up"] += sum(len(pks) for pks in refused.values())
        self.counts["deferred"] += sum(len(pks) for pks in skipped.values())
        for row in failed:
            self.counts["given_up" if row.state == Delivery.State.GIVEN_UP else "retry"] += 1

    def _failure(
        self, job: _Job, outcome: _Outcome, now: datetime, exhausted: set[int]
    ) -> Delivery:
        """The row of a failed attempt: retried after the back-off, or given up."""
        attempts = job.attempts + 1
        error = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
        row = Delivery(
            pk=job.pk,
            state=Delivery.State.PENDING,
            attempts=attempts,
            last_status=outcome.status,
            last_error=error[:1000],
            next_attempt_at=now + (outcome.retry_after or RETRY.delay(attempts)),
        )
        if attempts >= RETRY.max_attempts or now - job.created_at >= GIVE_UP_AFTER:
            row.state = Delivery.State.GIVEN_UP
            row.next_attempt_at = now
            exhausted.add(job.host_id)
            logger.warning("delivery %s to %s given up: %s", job.pk, job.inbox, error)
        return row

    def _record_hosts(
        self,
        health: dict[int, list[Any]],
        switched: dict[str, set[int]],
        exhausted: set[int],
        now: datetime,
    ) -> None:
        recovered: dict[int, list[int]] = defaultdict(list)
        failing: dict[int, list[int]] = defaultdict(list)
        for host_id, (answered, failures) in health.items():
            (recovered if answered else failing)[failures].append(host_id)
        for failures, host_ids in recovered.items():
            RemoteHost.objects.filter(pk__in=host_ids).update(
                consecutive_failures=failures,
                last_success_at=now,
                unavailable_since=None,
                **({"last_failure_at": now} if failures else {}),
            )
        for failures, host_ids in failing.items():
            RemoteHost.objects.filter(pk__in=host_ids).update(
                consecutive_failures=F("consecutive_failures") + failures, last_failure_at=now
            )
        for scheme, host_ids in switched.items():
            RemoteHost.objects.filter(pk__in=host_ids).update(signature_scheme=scheme)
        if exhausted:
            RemoteHost.objects.filter(pk__in=exhausted, unavailable_since__isnull=True).update(
                unavailable_since=now
            )

    def _schedule_next(self) -> None:
        """Enqueue the next run for the earliest pending delivery, if any remains."""
        if self.only is not None:
            at = (
                Delivery.objects.filter(pk=self.only, state=Delivery.State.PENDING)
                .values_list("next_attempt_at", flat=True)
                .first()
            )
            if at is not None:
                deliver.using(run_after=at).enqueue(self.only)
            return
        at = Delivery.objects.filter(
            activity_id=self.activity_id, state=Delivery.State.PENDING
        ).aggregate(at=Min("next_attempt_at"))["at"]
        if at is not None:
            fan_out.using(run_after=max(at, timezone.now())).enqueue(self.activity_id)


def _limits() -> tuple[int, int]:
    """The global and per-host caps, the global one within the open-files limit."""
    concurrency = max(1, int(settings.PARVIS_DELIVERY_CONCURRENCY))
    per_host = max(1, int(settings.PARVIS_DELIVERY_PER_HOST))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = concurrency + _SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < needed:
        # Each request in flight holds a socket: raise the soft limit when allowed.
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < needed:
            usable = max(1, soft - _SPARE_FILES)
            logger.warning(
                "open-files limit %s: %s deliveries in flight instead of %s",
                soft,
                usable,
                concurrency,
            )
            concurrency = min(concurrency, usable)
    return concurrency, per_host
