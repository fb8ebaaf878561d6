"""Backlog-drain benchmark: how fast workers catch up after an outage.

When the task workers stop (a crash, a deployment gone wrong) the inbox keeps
accepting deliveries: each is stored as an InboundActivity, which the workers'
inbound drain claims in batches. This script builds that backlog for an outage of
``--hours`` at ``--rate`` activities per second (2 h at 20/s: 144,000), then
starts ``parvis worker`` processes (one per core by default) and measures how
fast they empty it. The figure is the drain rate divided by the arrival rate:
a server that drains only as fast as traffic arrives never catches up.

The backlog is written straight into the database, the way the inbox view
writes it (the InboundActivity row, several activities per transaction to save
time), rather than
over HTTP: hours of arrivals are simulated in minutes, and inbox.py measures
the HTTP side. ``received_at`` is spread over the simulated outage.

The mix of kinds is configurable (``--mix``). Follows target local accounts
that the actor does not follow yet; Undos end follows made before the outage
(seeded Follow rows), so each finds its Follow whatever order the workers pick.
Likes, Announces and Creates (replies) aim at the demo's public posts. Remote
actors are seeded in the RemoteActor cache, fresh, so processing fetches
nothing; their inboxes point at a loopback sink that answers 202 to the Accept
deliveries Follows queue (allowed with ``PARVIS_HTTP_ALLOW_PRIVATE``). The sink
counts fetches and deliveries; the report gives the outcome recorded for each
kind, so a kind without its handler yet ("not handled yet") shows as such.

Usage: ``.venv/bin/python benchmarks/drain.py`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    RESULTS,
    BenchmarkError,
    free_port,
    install_env,
    machine_facts,
    parvis_command,
    quiet_step,
    running,
    sql_summary,
    stop_group,
    tail,
)
from _federation import (
    DEFAULT_MIX,
    Actor,
    Sink,
    Stream,
    Targets,
    actor_document,
    counts_for,
    follow,
    key_pool,
    local_targets,
    make_actors,
    mix_label,
    parse_mix,
    public_pems,
    running_sink,
)

SECTION = "drain"
RATIO_TARGET = 5.0
# Activities written per transaction while building the backlog.
CHUNK = 500
# Calls of each kind's handler before the timed ones (caches, the statement count).
UNTIMED_CALLS = 5
# Worker exits tolerated (each restarted and reported) before the run is called off.
MAX_EXITS = 10


# --- seeding (Django is set up in this process) ---------------------------------------


def seed_actors(actors: list[Actor], public: list[str], sink: Sink) -> None:
    """Fetch every remote actor once from the sink, as the inbox would: cached, fresh.

    Going through ``fetch_actor`` stores exactly what Parvis stores for a real
    actor (its Account and RemoteActor rows), whatever the models become.
    """
    from parvis.federation.remote import fetch_actor

    for actor in actors:
        sink.serve(
            actor.uri.removeprefix(sink.origin), actor_document(actor, public[actor.key_index])
        )
    began = time.monotonic()
    for n, actor in enumerate(actors, 1):
        fetch_actor(actor.uri)
        if n % 1000 == 0:
            print(f"  {n:,} actors fetched ({time.monotonic() - began:,.0f} s)", flush=True)


def seed_follows(actors: list[Actor], targets: Targets, wanted: int) -> list[tuple[int, int, int]]:
    """``wanted`` accepted follows made before the outage: the ones the Undos end.

    Recorded with the interactions service (no Accept is sent: those were sent
    before the outage).
    """
    from parvis.federation import ids
    from parvis.federation.models import RemoteActor
    from parvis.identity.models import Account
    from parvis.interactions.services import record_follow

    if wanted > len(actors) * len(targets.accounts) // 2:
        raise BenchmarkError(f"{wanted} Undos need more actors than {len(actors)}: raise --actors")
    remote = {r.uri: r.account for r in RemoteActor.objects.select_related("account")}
    local = {ids.actor_uri(a): a for a in Account.objects.local().select_related("domain")}
    existing: list[tuple[int, int, int]] = []
    # Taken from the far end of the actor list, so that the outage's new
    # Follows (taken from its start) find free (actor, account) pairs.
    for n in range(wanted):
        actor_index = len(actors) - 1 - (n // len(targets.accounts))
        account_index = n % len(targets.accounts)
        number = 10**9 + n
        actor, target = actors[actor_index], targets.accounts[account_index]
        existing.append((actor_index, account_index, number))
        record_follow(
            remote[actor.uri], local[target], follow(actor, number, target)["id"], approved=True
        )
    return existing


def store_inbound(activity: dict[str, Any], received_at: datetime) -> int:
    """Store one activity with the fields the inbox view stores (views/inbox.py); its pk."""
    from parvis.federation.inbox import object_id
    from parvis.federation.models import InboundActivity

    inbound = InboundActivity.objects.create(
        uri=activity["id"],
        actor_uri=activity["actor"],
        kind=activity["type"],
        object_uri=object_id(activity.get("object"))[:2048],
        body=json.dumps(activity),
        received_at=received_at,
    )
    return int(inbound.pk)


def build_backlog(stream: Stream, total: int, rate: float) -> Counter[str]:
    """Store ``total`` activities as the inbox view does; their kinds counted."""
    from django.db import transaction
    from django.utils import timezone

    kinds = stream.kinds(total)
    start = timezone.now() - timedelta(seconds=total / rate)
    began = time.monotonic()
    shown = began
    for offset in range(0, total, CHUNK):
        # The view commits each activity alone; several per transaction here only
        # saves time, the rows are the same.
        with transaction.atomic():
            for index in range(offset, min(offset + CHUNK, total)):
                activity = stream.activity(kinds[index])
                store_inbound(activity, start + timedelta(seconds=index / rate))
        if time.monotonic() - shown > 10:
            shown = time.monotonic()
            print(f"  {offset + CHUNK:,} of {total:,} stored", flush=True)
    print(f"  {total:,} stored in {time.monotonic() - began:,.0f} s", flush=True)
    return Counter(kinds)


@dataclass
class KindCost:
    """What processing one activity of a kind costs, in this process, without the queue."""

    kind: str
    milliseconds: float
    statements: int
    # Of ``milliseconds``: time inside the database driver (SQLite or psycopg).
    sql_milliseconds: float
    # The statement that took longest per activity on average, and that time.
    slowest: str
    slowest_milliseconds: float
    outcome: str


def handler_costs(stream: Stream, kinds: list[str], sample: int) -> list[KindCost]:
    """Time ``handle_inbound`` per kind on fresh activities, called directly, one thread.

    The activities are stored once the workers are stopped and applied one by one,
    so the figures are the handler and its transaction alone: what the worker
    adds (claiming batches, the deliveries the handlers queue) and what the two workers
    cost each other is the rest of the drain's time per activity. Every SQL
    statement is timed as well, to tell the database's share from Python's.
    """
    from django.db import connection
    from django.utils import timezone

    from parvis.federation.inbox import handle_inbound
    from parvis.federation.models import InboundActivity

    statements: list[str] = []
    sql_time: Counter[str] = Counter()

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time[sql_summary(sql)] += time.perf_counter() - began
            statements.append(sql)

    costs = []
    for kind in kinds:
        stored = InboundActivity.objects.in_bulk(
            [
                store_inbound(stream.activity(kind), timezone.now())
                for _ in range(sample + UNTIMED_CALLS)
            ]
        )
        rows = [stored[pk] for pk in sorted(stored)]
        outcomes: Counter[str] = Counter()
        # A few first calls fill caches; the last of them gives the statement count.
        with connection.execute_wrapper(record):
            for row in rows[:UNTIMED_CALLS]:
                statements.clear()
                outcomes[handle_inbound(row)] += 1
            count = len(statements)
            sql_time.clear()
            began = time.perf_counter()
            for row in rows[UNTIMED_CALLS:]:
                outcomes[handle_inbound(row)] += 1
            elapsed = time.perf_counter() - began
        slowest, slowest_seconds = sql_time.most_common(1)[0] if sql_time else ("", 0.0)
        costs.append(
            KindCost(
                kind=kind,
                milliseconds=elapsed / sample * 1000,
                statements=count,
                sql_milliseconds=sum(sql_time.values()) / sample * 1000,
                slowest=slowest,
                slowest_milliseconds=slowest_seconds / sample * 1000,
                outcome=outcomes.most_common(1)[0][0],
            )
        )
    return costs


# --- measuring ----------------------------------------------------------------------


def unprocessed() -> int:
    from parvis.federation.models import InboundActivity

    return InboundActivity.objects.filter(processed_at__isnull=True).count()


def due_tasks() -> int:
    """Tasks ready to run now or running (the backlog and what it queued)."""
    from django.db.models import Q
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    return (
        DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
        .filter(Q(run_after__lte=now) | Q(run_after__gt=now + timedelta(days=3650)))
        .count()
    )


@dataclass
class Drain:
    backlog: int
    started: datetime
    # Seconds from starting the workers to the last activity processed.
    seconds: float = 0.0
    # Seconds until no task was due any more (deliveries the backlog queued included).
    queue_seconds: float | None = None
    progress: list[tuple[float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.backlog / self.seconds if self.seconds else 0.0

    def quarters(self) -> list[float | None]:
        """Drain rate over each quarter of the backlog: does it slow as tables grow?

        None for a quarter crossed between two samples (too short to time).
        """
        rates: list[float | None] = []
        previous = (0.0, self.backlog)
        for quarter in (1, 2, 3, 4):
            goal = self.backlog - quarter * self.backlog / 4
            point = next(((t, left) for t, left in self.progress if left <= goal), None)
            if point is None:
                break
            seconds = point[0] - previous[0]
            rates.append((previous[1] - point[1]) / seconds if seconds > 0 else None)
            previous = point
        return rates


@dataclass
class Workers:
    """The ``parvis worker`` processes, restarted when one exits, as a supervisor would."""

    stack: ExitStack
    env: Mapping[str, str]
    folder: Path
    count: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    # "worker 1 after 1,815 s: …OperationalError: database is locked", one per exit.
    exits: list[str] = field(default_factory=list)

    def start(self) -> None:
        for n in range(self.count):
            self.processes.append(self._spawn(n, self.folder / f"worker-{n}.log"))
            self.logs.append(self.folder / f"worker-{n}.log")

    def _spawn(self, n: int, log: Path) -> subprocess.Popen[bytes]:
        return self.stack.enter_context(running(parvis_command("worker"), log, self.env))

    def restart_exited(self, elapsed: float) -> None:
        """Start again every worker that exited; give up past MAX_EXITS exits."""
        for n, process in enumerate(self.processes):
            if process.poll() is None:
                continue
            lines = [line.strip() for line in tail(self.logs[n], 200).splitlines()]
            reason = next((line for line in reversed(lines) if line), "no output")
            self.exits.append(f"worker {n} after {elapsed:,.0f} s: {reason}")
            print(f"  {self.exits[-1]} (restarted)", flush=True)
            if len(self.exits) > MAX_EXITS:
                raise BenchmarkError(
                    f"workers exited {len(self.exits)} times:\n{tail(self.logs[n])}"
                )
            self.logs[n] = self.folder / f"worker-{n}-restart-{len(self.exits)}.log"
            self.processes[n] = self._spawn(n, self.logs[n])

    def stop(self) -> None:
        for process in self.processes:
            stop_group(process)


def watch(drain: Drain, workers: Workers, limit: float) -> None:
    """Poll until the backlog is processed and the due queue is empty (or ``limit``)."""
    from django.db.models import Max

    from parvis.federation.models import InboundActivity

    began = time.monotonic()
    shown = 0.0
    left = drain.backlog
    while time.monotonic() - began < limit:
        time.sleep(2)
        elapsed = time.monotonic() - began
        workers.restart_exited(elapsed)
        if left:
            left = unprocessed()
            drain.progress.append((elapsed, left))
            if elapsed - shown >= 15 or not left:
                shown = elapsed
                done = drain.backlog - left
                print(
                    f"  {elapsed:6.0f} s: {done:,} processed, {left:,} left "
                    f"({done / elapsed:,.0f}/s)",
                    flush=True,
                )
            if not left:
                last = InboundActivity.objects.aggregate(last=Max("processed_at"))["last"]
                drain.seconds = (last - drain.started).total_seconds()
        if not left and due_tasks() == 0:
            drain.queue_seconds = elapsed
            return
    if left:
        raise BenchmarkError(f"{left:,} activities still unprocessed after {limit:,.0f} s")
    print(f"  tasks still due after {limit:,.0f} s; stopping", flush=True)


def outcomes() -> dict[str, Counter[str]]:
    from django.db.models import Count

    from parvis.federation.models import InboundActivity

    table: dict[str, Counter[str]] = {}
    rows = InboundActivity.objects.values("kind", "outcome").annotate(n=Count("id"))
    for row in rows:
        table.setdefault(row["kind"], Counter())[row["outcome"] or "(unprocessed)"] += row["n"]
    return table


def task_states() -> Counter[tuple[str, str]]:
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    return Counter(
        {
            (row["task_path"].rsplit(".", 1)[1], row["status"]): row["n"]
            for row in DBTaskResult.objects.values("task_path", "status").annotate(n=Count("id"))
        }
    )


# --- report -------------------------------------------------------------------------

COST_HEADER = (
    "| Kind | ms per activity | SQL statements | of which in the database driver, ms "
    "| costliest statements (verb and table), ms per activity | Outcome |\n"
    "|---|---|---|---|---|---|"
)


def duration(seconds: float) -> str:
    """``2 h``, ``30 min`` or ``45 s``: the length of the simulated outage."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def write_results(
    *,
    facts: Mapping[str, str],
    args: argparse.Namespace,
    drain: Drain,
    kinds: Counter[str],
    table: Mapping[str, Counter[str]],
    tasks: Counter[tuple[str, str]],
    sink: Mapping[str, int],
    posted: Counter[str],
    costs: list[KindCost],
    mix: Mapping[str, float],
    command: str,
    path: Path,
) -> None:
    from _common import write_section

    ratio = drain.rate / args.rate
    met = ratio >= RATIO_TARGET
    outcome_rows = "\n".join(
        f"| {kind} | {kinds.get(kind, 0):,} | "
        + "; ".join(f"{outcome}: {n:,}" for outcome, n in table.get(kind, Counter()).most_common())
        + " |"
        for kind in sorted(set(kinds) | set(table), key=lambda k: -kinds.get(k, 0))
    )
    task_rows = "; ".join(f"{name} {status}: {n:,}" for (name, status), n in sorted(tasks.items()))
    queue = (
        f"{drain.queue_seconds:,.0f} s"
        if drain.queue_seconds is not None
        else "not within the time limit"
    )
    outage = f"{duration(drain.backlog / args.rate)} at {args.rate:g} activities/s" + (
        " (`--backlog`)" if args.backlog else ""
    )
    quarters = " / ".join("—" if rate is None else f"{rate:,.0f}" for rate in drain.quarters())
    delivered = ", ".join(f"{kind} {n:,}" for kind, n in posted.most_common()) or "none"
    breakdown = ""
    if costs:
        per_task = args.workers / drain.rate * 1000 if drain.rate else 0.0
        handlers = sum(mix.get(c.kind, 0) * c.milliseconds for c in costs)
        rows = "\n".join(
            f"| {c.kind} | {c.milliseconds:.2f} | {c.statements} | {c.sql_milliseconds:.2f} "
            f"| `{c.slowest}` {c.slowest_milliseconds:.2f} | {c.outcome} |"
            for c in costs
        )
        breakdown = f"""
Where the time goes: each kind's `handle_inbound` called directly in the benchmark's
process ({args.breakdown} fresh activities each, one thread, no queue, no other process):

{COST_HEADER}
{rows}

Weighted by the mix, the handlers take {handlers:.2f} ms per activity; during the drain each
worker spent {per_task:.2f} ms per activity (workers ÷ drain rate): the difference is the
queue (claiming batches), the Accept deliveries run in between,
and the workers waiting on each other for the database.
"""
    figure_row = (
        f"| drain rate, activities/s | {drain.rate:,.0f} ({drain.backlog:,} in "
        f"{drain.seconds:,.0f} s) | arrival {args.rate:g}/s | {ratio:.3g}x "
        f"| >= {RATIO_TARGET:g}x | {'yes' if met else '**no**'} |"
    )
    text = f"""## Backlog drain: catching up after a worker outage

Written by `benchmarks/drain.py`.

- Date: {facts["date"]}
- Code: {facts["revision"]}
- Machine: {facts["nproc"]} CPUs (`nproc`), {facts["cpu"]}; load average before the run:
  {facts["load"]}
- Software: Python {facts["python"]}, Django {facts["django"]}; database: {facts["database"]}
- Command: `{command}`
- Outage: {outage} = **{drain.backlog:,}** stored
  activities, written straight into the database the way the inbox view writes them
  ({CHUNK} per transaction), `received_at` spread over the outage; the workers' inbound
  drain claims them in batches; mix: {facts["mix"]}
- Remote side: {args.actors:,} remote actors seeded fresh in the RemoteActor cache; their
  inboxes are a loopback sink answering 202; {facts["follows"]} accepted follows seeded for
  the Undos to end; local targets: {facts["targets"]}
- Workers: {args.workers} × `parvis worker` (one process each), started after the backlog
  was complete; timed from their start to the last `processed_at`; a worker that exits is
  started again, as a supervisor would: exits: {facts["exits"]}
- Sink: {sink["fetches"]:,} actor fetches, {sink["posts"]:,} deliveries received ({delivered})

| Figure | Measured | Reference | Ratio | Target | Met? |
|---|---|---|---|---|---|
{figure_row}

Drain rate by quarter of the backlog (activities/s, sampled every 2 s): {quarters}.
Whole queue (the Accept deliveries the Follows queued included) empty after {queue}.

Outcome recorded per kind:

| Kind | Stored | Outcomes |
|---|---|---|
{outcome_rows}

Tasks at the end: {task_rows}.
{breakdown}
{"Target met." if met else f"Missed: drain rate {ratio:.2f}x the arrival rate."}
"""
    write_section(path, SECTION, text)


# --- main ---------------------------------------------------------------------------


def run(args: argparse.Namespace, results: Path | None, command: str) -> float:
    facts = machine_facts()
    mix = parse_mix(args.mix)
    facts["mix"] = mix_label(mix)
    total = args.backlog or round(args.rate * args.hours * 3600)
    counts = counts_for(mix, total)
    print(f"Making {args.keys} RSA keys…", flush=True)
    private = key_pool(args.keys)
    public = public_pems(private)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parvis-drain-")))
        sink = stack.enter_context(running_sink())
        extra = {"PARVIS_HTTP_ALLOW_PRIVATE": f"{HOST}/32"}
        if args.database_url:
            extra["DATABASE_URL"] = args.database_url
        # No server runs: the port only shapes the local URIs activities point at.
        env = install_env(tmp / "data", free_port(), **extra)
        facts["database"] = (
            "PostgreSQL (`--database-url`)" if args.database_url else "SQLite (WAL), file"
        )
        print("Setting up a demo install…", flush=True)
        quiet_step(parvis_command("migrate", "--verbosity", "0"), env)
        quiet_step(parvis_command("demo"), env)
        os.environ.update(env)
        import django

        django.setup()
        from parvis.federation.models import InboundActivity

        if InboundActivity.objects.exists():
            raise BenchmarkError("the database already holds inbound activities: use an empty one")
        targets = local_targets()
        facts["targets"] = f"{len(targets.accounts)} accounts, {len(targets.posts)} public posts"
        actors = make_actors(sink.origin, args.actors, args.keys)
        print(f"Seeding {len(actors):,} remote actors…", flush=True)
        seed_actors(actors, public, sink)
        # Follows for the backlog's Undos, and for the Undos of the breakdown.
        undos = counts.get("Undo", 0)
        if args.breakdown and "Undo" in mix:
            undos += args.breakdown + UNTIMED_CALLS
        existing = seed_follows(actors, targets, undos)
        facts["follows"] = f"{len(existing):,}"
        # The tasks of the demo and of the seeding (federating the demo's posts,
        # notifications) must not count as backlog.
        quiet_step(parvis_command("worker", "--once"), env, timeout=1800)
        stream = Stream(actors, targets, mix, existing_follows=existing)
        print(f"Storing a backlog of {total:,} activities ({mix_label(mix)})…", flush=True)
        kinds = build_backlog(stream, total, args.rate)
        left = unprocessed()
        if left != total:
            raise BenchmarkError(f"{left:,} unprocessed activities stored, expected {total:,}")
        from django.db import connections
        from django.utils import timezone

        # The workers must not wait on a transaction of this process.
        connections.close_all()

        print(f"Starting {args.workers} workers…", flush=True)
        drain = Drain(backlog=total, started=timezone.now())
        workers = Workers(stack, env, tmp, args.workers)
        workers.start()
        # Counted from here: the seeding fetched every actor, and the demo's
        # posts went to the seeded followers.
        fetches_before, posts_before, posted_before = sink.fetches, sink.posts, Counter(sink.posted)
        watch(drain, workers, limit=args.timeout)
        # Stopped before counting, so that the counts are final.
        workers.stop()
        facts["exits"] = "; ".join(workers.exits) or "none"
        table = outcomes()
        tasks = task_states()
        sink_counts = {
            "fetches": sink.fetches - fetches_before,
            "posts": sink.posts - posts_before,
        }
        posted = Counter(sink.posted) - posted_before
        costs = []
        if args.breakdown:
            print(f"Timing each kind's handler in this process ({args.breakdown} each)…")
            costs = handler_costs(stream, list(mix), args.breakdown)
    ratio = drain.rate / args.rate
    print()
    print(
        f"Drained {drain.backlog:,} activities in {drain.seconds:,.0f} s: {drain.rate:,.0f}/s, "
        f"{ratio:.2f}x the arrival rate of {args.rate:g}/s (target >= {RATIO_TARGET:g}x)"
    )
    for kind, outcome_counts in sorted(table.items()):
        print(f"  {kind}: " + "; ".join(f"{o}: {n:,}" for o, n in outcome_counts.most_common()))
    print(f"  sink: {sink_counts['fetches']} actor fetches, {sink_counts['posts']:,} deliveries")
    for cost in costs:
        print(
            f"  {cost.kind}: {cost.milliseconds:.2f} ms, {cost.statements} SQL statements "
            f"taking {cost.sql_milliseconds:.2f} ms (costliest {cost.slowest}: "
            f"{cost.slowest_milliseconds:.2f} ms) ({cost.outcome})"
        )
    if results is not None:
        write_results(
            facts=facts,
            args=args,
            drain=drain,
            kinds=kinds,
            table=table,
            tasks=tasks,
            sink=sink_counts,
            posted=posted,
            costs=costs,
            mix=mix,
            command=command,
            path=results,
        )
        print(f"\nWritten to {results}")
    return ratio


def masked(arguments: list[str]) -> list[str]:
    """The command line with the database URL hidden: it may hold a password."""
    shown = []
    hide_next = False
    for argument in arguments:
        if hide_next:
            shown.append("…")
        elif argument.startswith("--database-url="):
            shown.append("--database-url=…")
        else:
            shown.append(argument)
        hide_next = argument == "--database-url"
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="Arrivals per second.")
    parser.add_argument("--hours", type=float, default=2.0, help="Length of the outage.")
    parser.add_argument(
        "--backlog", type=int, default=0, help="Activities stored (default: rate × hours)."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="parvis worker processes (default: one per core).",
    )
    parser.add_argument("--actors", type=int, default=5000, help="Remote actors.")
    parser.add_argument("--keys", type=int, default=4, help="RSA keys shared by the actors.")
    parser.add_argument("--mix", default=DEFAULT_MIX, help="Activity kinds and weights.")
    parser.add_argument(
        "--database-url",
        default="",
        help="An empty, throw-away PostgreSQL database (default: SQLite in a temp dir).",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="Give up after this many seconds of drain."
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=100,
        help="Activities per kind timed in-process after the drain (0: skip).",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose drain section gets the figures ('-' for none).",
    )
    parser.add_argument(
        "--strict", action="store_true", help="Exit with status 1 when the target is missed."
    )
    args = parser.parse_args()
    results = None if str(args.results) == "-" else args.results
    command = " ".join(["python benchmarks/drain.py", *masked(sys.argv[1:])])
    try:
        ratio = run(args, results, command)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    if ratio < RATIO_TARGET:
        print(f"Target missed: {ratio:.2f}x < {RATIO_TARGET:g}x")
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
