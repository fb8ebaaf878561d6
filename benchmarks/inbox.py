"""Inbox benchmark: how fast Parvis accepts signed deliveries on its shared inbox.

The accept path is what a remote server waits on when it delivers to Parvis:
read and parse the body, check the HTTP signature with the sender's cached key,
store the activity, answer 202. Processing happens later, in the workers'
inbound drain (see drain.py).

One run builds a throw-away demo install, serves it with ``parvis serve
--workers N --no-worker`` on 127.0.0.1, and plays many remote actors whose
documents a loopback sink serves. Every request is a distinct, validly signed
activity (distinct ids: a repeated id would take the cheaper "already
received" path). Three figures:

1. requests per second on ``POST /inbox`` (wrk, closed loop, a Lua script
   feeding pre-signed requests), against ``GET /health`` of the same server
   measured before and after; target ≥ 0.25×;
2. latency at a fixed arrival rate of half that throughput (open-loop
   generator, see _openloop.py); target p99 ≤ 50 ms;
3. the same latency while one client address floods at 10× the per-address
   rate limit (checklist N4): the others' p99 within 1.10× figure 2, all of
   them accepted, the flood answered 429.

Before measuring, one delivery per actor warms the key cache through real
fetches from the sink, and is checked: 202 and one InboundActivity row each,
waiting for a worker. While measuring, the sink must see no fetch at all.

Usage: ``.venv/bin/python benchmarks/inbox.py`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    DEFAULT_DOMAIN,
    HOST,
    RESULTS,
    BenchmarkError,
    Load,
    Measure,
    averaged,
    ensure_tools,
    free_port,
    install_env,
    machine_facts,
    parse_wrk,
    parvis_command,
    quiet_step,
    report,
    running,
    sql_summary,
    tool_version,
    wait_until_up,
    write_section,
)
from _federation import (
    DEFAULT_MIX,
    Actor,
    Sink,
    Stream,
    Targets,
    actor_document,
    key_pool,
    like,
    local_targets,
    make_actors,
    mix_label,
    parse_mix,
    public_pems,
    running_sink,
)
from _openloop import OpenLoopResult, open_loop, open_loop_streams

SECTION = "inbox"
INBOX_PATH = "/inbox"
RATIO_TARGET = 0.25
P99_TARGET_MS = 50.0
# Checklist N4: one client flooding at 10x its limit leaves the others' p99 within 10 %.
RATE_LIMIT_PER_MINUTE = 600
FLOOD_FACTOR = 10
FLOOD_ADDRESS = "203.0.113.66"
FLOOD_P99_TARGET = 1.10

# Feeds wrk pre-signed requests: each wrk thread reads its own file of raw
# requests (NUL-separated) and sends each once; ``wraps`` counts how often a
# thread ran out and started over, which the script refuses as a result.
WRK_SCRIPT = r"""
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

requests = {}
prepared = 0
built = 0
wraps = 0
local position = 1

function init(args)
  local file = assert(io.open(args[#args] .. "/requests-" .. id .. ".bin", "rb"))
  local data = file:read("*a")
  file:close()
  local start = 1
  while true do
    local stop = string.find(data, "\0", start, true)
    if not stop then break end
    requests[#requests + 1] = string.sub(data, start, stop - 1)
    start = stop + 1
  end
  prepared = #requests
end

function request()
  if position > prepared then
    wraps = wraps + 1
    position = 1
  end
  local raw = requests[position]
  position = position + 1
  built = built + 1
  return raw
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("bench-thread %d prepared=%d built=%d wraps=%d\n",
      thread:get("id"), thread:get("prepared"), thread:get("built"), thread:get("wraps")))
  end
end
"""


# --- signing (in a pool of processes: RSA signing costs about 1 ms a request) --------

_signing_keys: list[Any] = []


def _load_keys(pems: Sequence[str]) -> None:
    from cryptography.hazmat.primitives import serialization

    _signing_keys[:] = [serialization.load_pem_private_key(p.encode(), None) for p in pems]


def _sign_batch(batch: Sequence[tuple[bytes, str, int, str]], authority: str) -> list[bytes]:
    """Raw HTTP/1.1 requests for (body, key id, key index, client address), signed now.

    The client address goes in X-Forwarded-For, which the server believes from the
    loopback (PARVIS_TRUSTED_PROXIES), as behind nginx: each actor is its own client
    for the per-address rate limit.
    """
    from parvis.federation.signatures import sign_cavage

    url = f"http://{authority}{INBOX_PATH}"
    raw = []
    for body, key_id, key_index, address in batch:
        headers = {
            "Host": authority,
            "Content-Type": "application/activity+json",
            "X-Forwarded-For": address,
        }
        headers.update(sign_cavage("POST", url, headers, body, key_id, _signing_keys[key_index]))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        raw.append(
            f"POST {INBOX_PATH} HTTP/1.1\r\n{head}User-Agent: parvis-benchmark (Mastodon-like)\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    return raw


@dataclass
class Signer:
    """Signs batches of activities as their actors, in parallel, right before they are sent.

    Signatures carry a Date that Parvis accepts for five minutes, so each batch
    is signed just before the phase that sends it.
    """

    pool: ProcessPoolExecutor
    authority: str

    def sign(
        self, activities: Sequence[tuple[dict[str, Any], Actor]], address: str | None = None
    ) -> list[bytes]:
        """Sign as each actor; sent from the actor's own address, or all from ``address``."""
        items = [
            (
                json.dumps(activity).encode(),
                actor.key_id,
                actor.key_index,
                address or _address(actor),
            )
            for activity, actor in activities
        ]
        chunk = max(1, math.ceil(len(items) / ((os.cpu_count() or 1) * 4)))
        batches = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        signed: list[bytes] = []
        for part in self.pool.map(_sign_batch, batches, [self.authority] * len(batches)):
            signed.extend(part)
        return signed


def _address(actor: Actor) -> str:
    """A distinct client address per actor (198.18.0.0/15, the benchmarking range)."""
    number = int(actor.uri.rsplit("peer", 1)[1])
    return f"198.18.{number // 256 % 256}.{number % 256}"


@contextmanager
def signer(private_pems: Sequence[str], authority: str) -> Iterator[Signer]:
    """A pool of signing processes holding the actors' private keys."""
    # Spawned, not forked: the pool starts its processes on first use, when
    # this process already holds Django's database connection.
    with ProcessPoolExecutor(
        max_workers=os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_load_keys,
        initargs=(list(private_pems),),
    ) as pool:
        yield Signer(pool, authority)


# --- the install ------------------------------------------------------------------


def inbound_counts() -> tuple[int, int]:
    """Stored inbound activities, and those waiting for a worker."""
    from parvis.federation.models import InboundActivity

    waiting = InboundActivity.objects.filter(processed_at__isnull=True).count()
    return InboundActivity.objects.count(), waiting


class Activities:
    """Distinct activities of the mix, as (activity, signing actor) pairs."""

    def __init__(self, actors: list[Actor], targets: Targets, mix: Mapping[str, float]) -> None:
        self.actors = {actor.uri: actor for actor in actors}
        self.targets = targets
        # Nothing processes them here: Follows and Undos may repeat a pair.
        self.stream = Stream(actors, targets, mix, consistent=False)

    def take(self, count: int) -> list[tuple[dict[str, Any], Actor]]:
        return [(activity, self.actors[activity["actor"]]) for activity in self.stream.take(count)]

    def one_per_actor(self) -> list[tuple[dict[str, Any], Actor]]:
        """A Like from each actor (number 0, which the stream never uses)."""
        post = self.targets.posts[0]
        return [(like(actor, 0, post), actor) for actor in self.actors.values()]


# --- phases -----------------------------------------------------------------------


def post_raw(port: int, raw: bytes) -> int:
    """Send one pre-signed raw request; its status."""
    import socket

    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def warm_key_cache(port: int, signed: Sequence[bytes], sink: Sink) -> None:
    """One delivery per actor: Parvis fetches each actor once and caches its key."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda raw: post_raw(port, raw), signed))
    refused = [status for status in statuses if status != 202]
    if refused:
        raise BenchmarkError(f"{len(refused)} warm-up deliveries refused: {sorted(set(refused))}")
    if sink.fetches < len(signed):
        raise BenchmarkError(f"only {sink.fetches} actor fetches for {len(signed)} actors")


def exhaust_flood_quota(port: int, signed: Sequence[bytes]) -> None:
    """Start figure 3 in the steady state of a flood: the flooding address (which signed
    requests ``signed`` come from) has used its quota of the current minute, in each web
    worker (the limiter's counters are per process with the default cache), and that
    minute lasts until the run ends."""
    window = 60.0
    if window - time.time() % window < 35:
        time.sleep(window - time.time() % window + 0.2)
    open_loop(HOST, port, signed, rate=2000)


def write_request_files(folder: Path, signed: Sequence[bytes], threads: int) -> None:
    """Split the requests between wrk's threads, one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    share = math.ceil(len(signed) / threads)
    for thread in range(threads):
        part = signed[thread * share : (thread + 1) * share]
        (folder / f"requests-{thread}.bin").write_bytes(b"".join(raw + b"\0" for raw in part))


@dataclass
class InboxRun:
    measure: Measure
    wraps: int
    prepared: int


def wrk_inbox(
    load: Load, port: int, seconds: int, signed: Sequence[bytes], work: Path, name: str
) -> InboxRun:
    """Run wrk over ``signed``; the measure and how often a thread ran out."""
    folder = work / name
    write_request_files(folder, signed, load.threads)
    script = work / "inbox.lua"
    script.write_text(WRK_SCRIPT)
    output = load.wrk(seconds, f"http://{HOST}:{port}{INBOX_PATH}", {}, script, [str(folder)])
    shutil.rmtree(folder)
    measure = parse_wrk(output)
    wraps = sum(
        int(line.rsplit("wraps=", 1)[1])
        for line in measure.script_output.splitlines()
        if line.startswith("bench-thread")
    )
    return InboxRun(measure, wraps, len(signed))


@dataclass
class InProcess:
    """Per-request cost inside one Django process: no HTTP server, no other request."""

    health_ms: float
    inbox_ms: float
    statements: list[str]


def in_process_costs(signed: Sequence[bytes], authority: str) -> InProcess:
    """Where the time goes: ``/health`` and ``POST /inbox`` through Django's test client.

    Run in this process against the same database once the server is idle; the
    SQL statements of one accepted delivery are listed, shortened.
    """
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=authority)
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql_summary(sql))
        return execute(sql, params, many, context)

    def deliver(raw: bytes) -> int:
        head, body = raw.split(b"\r\n\r\n", 1)
        meta = {}
        for line in head.decode().split("\r\n")[1:]:
            name, _sep, value = line.partition(": ")
            if name.lower() not in ("host", "content-type", "content-length"):
                meta["HTTP_" + name.upper().replace("-", "_")] = value
        answer = client.post(INBOX_PATH, body, content_type="application/activity+json", **meta)
        return int(answer.status_code)

    for raw in signed[:20]:
        deliver(raw)
    with connection.execute_wrapper(record):
        status = deliver(signed[20])
    if status != 202:
        raise BenchmarkError(f"in-process delivery answered {status}")
    began = time.perf_counter()
    for raw in signed[21:]:
        deliver(raw)
    inbox_ms = (time.perf_counter() - began) / (len(signed) - 21) * 1000
    for _ in range(20):
        client.get("/health")
    began = time.perf_counter()
    for _ in range(len(signed) - 21):
        client.get("/health")
    health_ms = (time.perf_counter() - began) / (len(signed) - 21) * 1000
    return InProcess(health_ms, inbox_ms, statements)


# --- report -----------------------------------------------------------------------


@dataclass
class Figures:
    health: Measure
    inbox: Measure
    workers: int
    latency: OpenLoopResult
    flooded: OpenLoopResult
    latency_again: OpenLoopResult
    flood: OpenLoopResult
    rows_before: int
    rows_after: int
    waiting_after: int
    answered_202: int
    fetches_while_measuring: int
    warm_actors: int
    in_process: InProcess | None

    @property
    def ratio(self) -> float:
        return self.inbox.rps / self.health.rps if self.health.rps else 0.0

    @property
    def p99_ms(self) -> float:
        return self.latency.percentile(0.99) * 1000

    @property
    def ratio_met(self) -> bool:
        return self.ratio >= RATIO_TARGET

    @property
    def latency_met(self) -> bool:
        return self.p99_ms <= P99_TARGET_MS and not self.latency.errors

    @property
    def unflooded_p99(self) -> float:
        """Figure 2's p99 measured before and after the flood, averaged (seconds)."""
        return (self.latency.percentile(0.99) + self.latency_again.percentile(0.99)) / 2

    @property
    def flood_ratio(self) -> float:
        return self.flooded.percentile(0.99) / self.unflooded_p99

    @property
    def flood_met(self) -> bool:
        """The others' p99 within 10 %, all of them accepted, the flood refused."""
        others_ok = set(self.flooded.statuses) == {202} and not self.flooded.errors
        return self.flood_ratio <= FLOOD_P99_TARGET and others_ok and self.flood_refused > 0.8

    @property
    def flood_refused(self) -> float:
        return self.flood.statuses.get(429, 0) / max(1, self.flood.sent)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def table(f: Figures) -> str:
    lat = f.latency
    yes = {True: "yes", False: "**no**"}
    bad = str(f.inbox.bad_status) + (f" ({f.inbox.socket_errors})" if f.inbox.socket_errors else "")
    non_202 = sum(n for status, n in lat.statuses.items() if status != 202)
    lat_bad = f"{non_202}" + (f", errors {dict(lat.errors)}" if lat.errors else "")
    lines = [
        "| Figure | Measured | Reference | Ratio | Target | Met? | Non-2xx |",
        "|---|---|---|---|---|---|---|",
        f"| 1 `POST /inbox`, req/s (per web worker) | {f.inbox.rps:,.0f} "
        f"({f.inbox.rps / f.workers:,.0f}) | `/health` {f.health.label()} | {f.ratio:.3g}x "
        f"| >= {RATIO_TARGET:.2f}x | {yes[f.ratio_met]} | {bad} |",
        f"| 1 `GET /health`, req/s | {f.health.label()} | — | — | — | — | {f.health.bad_status} |",
        f"| 2 `POST /inbox` p99 latency at {lat.rate:,.0f} req/s, ms | {_ms(lat.percentile(0.99))}"
        f" | — | — | <= {P99_TARGET_MS:.0f} ms | {yes[f.latency_met]} | {lat_bad} |",
        f"| 3 the same while one address floods at {f.flood.rate:,.0f} req/s "
        f"({FLOOD_FACTOR}× its limit): others' p99, ms | {_ms(f.flooded.percentile(0.99))} "
        f"| figure 2 before and after {_ms(f.unflooded_p99)} ({_ms(lat.percentile(0.99))} / "
        f"{_ms(f.latency_again.percentile(0.99))}) | {f.flood_ratio:.2f}x "
        f"| <= {FLOOD_P99_TARGET:.2f}x | {yes[f.flood_met]} "
        f"| others {sum(n for s, n in f.flooded.statuses.items() if s != 202)}; flood "
        f"{f.flood_refused:.0%} answered 429 |",
    ]
    return "\n".join(lines)


def latency_line(lat: OpenLoopResult) -> str:
    lag = lat.percentile(0.99, lat.send_lag)
    return (
        f"{len(lat.latencies):,} requests due at {lat.rate:,.0f}/s, answered at "
        f"{lat.achieved_rate:,.0f}/s over {lat.connections} connections: p50 "
        f"{_ms(lat.percentile(0.5))} ms, p90 {_ms(lat.percentile(0.9))} ms, p99 "
        f"{_ms(lat.percentile(0.99))} ms, p99.9 {_ms(lat.percentile(0.999))} ms, max "
        f"{_ms(max(lat.latencies, default=float('nan')))} ms; generator send lag p99 "
        f"{_ms(lag)} ms"
    )


def where(f: Figures) -> str:
    """The in-process breakdown, when it was measured."""
    if f.in_process is None:
        return ""
    cost = f.in_process
    statements = ", ".join(f"`{sql}`" for sql in cost.statements)
    return f"""
Where the time goes, in one Django process through the test client (no HTTP server, one
request at a time, {cost.health_ms:.2f} ms per `/health`): an accepted delivery takes
{cost.inbox_ms:.2f} ms ({cost.inbox_ms / cost.health_ms:.1f}× `/health`) and
{len(cost.statements)} SQL statements: {statements}
"""


def write_results(
    f: Figures, facts: Mapping[str, str], args: argparse.Namespace, command: str, path: Path
) -> None:
    summary = (
        "All targets met."
        if f.ratio_met and f.latency_met and f.flood_met
        else "Missed: "
        + ", ".join(
            name
            for name, met in (
                ("1 throughput ratio", f.ratio_met),
                ("2 p99 latency", f.latency_met),
                ("3 p99 under a flood", f.flood_met),
            )
            if not met
        )
        + "."
    )
    text = f"""## Inbox: accepting signed deliveries

Written by `benchmarks/inbox.py`.

- Date: {facts["date"]}
- Code: {facts["revision"]}
- Machine: {facts["nproc"]} CPUs (`nproc`), {facts["cpu"]}; load average before the run:
  {facts["load"]}
- Software: Python {facts["python"]}, Django {facts["django"]}, granian {facts["granian"]},
  {facts["wrk"]}
- Command: `{command}`
- Parvis: `parvis serve --host {HOST} --port … --workers {f.workers} --no-worker`, SQLite
  (WAL), demo data, `PARVIS_INBOX_RATE_PER_MINUTE={RATE_LIMIT_PER_MINUTE}` per client
  address; the loopback is a trusted proxy and each request names its client in
  X-Forwarded-For: one address per actor (198.18.0.0/15), each well under the limit
- Requests: each a distinct activity ({facts["mix"]}; {facts["body_bytes"]} bytes on
  average), signed draft-cavage `rsa-sha256` with RSA-2048 keys by one of {args.actors}
  remote actors ({args.keys} keys shared between them) served by a loopback sink; signed in
  advance, Date under five minutes old when sent
- Key cache warmed before measuring: one delivery per actor, each answered 202 with the
  actor fetched from the sink ({f.warm_actors} fetches); fetches while measuring:
  **{f.fetches_while_measuring}**
- Figure 1: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s` (closed loop) after a
  {args.warmup} s warm-up, a Lua script sending pre-signed requests, none twice; `/health`
  measured the same way before and after, and averaged. wrk shares the CPUs with the server
- Figure 2: open-loop generator (benchmarks/_openloop.py, asyncio, one Python thread on the
  same machine), requests due at a fixed rate of half figure 1 for {args.latency_duration} s,
  latency counted from the moment each request was due (wrk2's correction for coordinated
  omission): {latency_line(f.latency)}
- Figure 3 (checklist N4): figure 2 again with fresh requests, while a second stream from one
  address ({FLOOD_ADDRESS}, validly signed requests) arrives at {FLOOD_FACTOR}× the
  per-address limit for the same {args.latency_duration} s: others {latency_line(f.flooded)};
  flood answers {dict(f.flood.statuses)}; then figure 2 again without the flood, with fresh
  requests (the reference is the mean of both unflooded p99, as the database grows from run
  to run): {latency_line(f.latency_again)}
- Stored: InboundActivity rows {f.rows_before:,} → {f.rows_after:,} (202 answers counted
  by the clients: {f.answered_202:,}); activities waiting for a worker at the end:
  {f.waiting_after:,}

{table(f)}
{where(f)}
{summary}
"""
    write_section(path, SECTION, text)


# --- main -------------------------------------------------------------------------


def run(args: argparse.Namespace, results: Path | None, command: str) -> Figures:
    ensure_tools(("wrk",))
    facts = machine_facts()
    facts["wrk"] = tool_version(["wrk", "-v"]).split(" [")[0]
    mix = parse_mix(args.mix)
    facts["mix"] = mix_label(mix)
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    port = free_port()
    authority = f"{DEFAULT_DOMAIN}:{port}"
    print(f"Making {args.keys} RSA keys…", flush=True)
    private = key_pool(args.keys)
    with (
        tempfile.TemporaryDirectory(prefix="parvis-inbox-") as tmp,
        running_sink() as sink,
        signer(private, authority) as signing,
    ):
        work = Path(tmp)
        env = install_env(
            work / "data",
            port,
            # Each actor is a client address of its own (X-Forwarded-For from the
            # loopback), well under the limit; the flood of figure 3 is far over it.
            PARVIS_INBOX_RATE_PER_MINUTE=str(RATE_LIMIT_PER_MINUTE),
            PARVIS_TRUSTED_PROXIES=f"{HOST}/32",
            # The sink that serves the actors' documents is on the loopback.
            PARVIS_HTTP_ALLOW_PRIVATE=f"{HOST}/32",
        )
        print("Setting up a demo install…", flush=True)
        for step in (["migrate", "--verbosity", "0"], ["demo"]):
            quiet_step(parvis_command(*step), env)
        os.environ.update(env)
        import django

        django.setup()
        actors = make_actors(sink.origin, args.actors, args.keys)
        public = public_pems(private)
        for actor in actors:
            sink.serve(
                actor.uri.removeprefix(sink.origin), actor_document(actor, public[actor.key_index])
            )
        activities = Activities(actors, local_targets(), mix)

        serve = parvis_command(
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-worker",
        )
        log = work / "parvis.log"
        with running(serve, log, env) as server:
            wait_until_up(port, server, log, limit=90)
            print(f"Warming the key cache ({len(actors)} actors)…", flush=True)
            rows0, _waiting0 = inbound_counts()
            warm_key_cache(port, signing.sign(activities.one_per_actor()), sink)
            rows1, waiting1 = inbound_counts()
            if rows1 - rows0 != len(actors) or waiting1 < len(actors):
                raise BenchmarkError(
                    f"{len(actors)} deliveries accepted but {rows1 - rows0} rows stored, "
                    f"{waiting1} waiting for a worker"
                )
            fetches_before = sink.fetches
            body_sizes = [
                len(raw.split(b"\r\n\r\n", 1)[1]) for raw in signing.sign(activities.take(200))
            ]
            facts["body_bytes"] = f"{sum(body_sizes) / len(body_sizes):,.0f}"

            print(f"Measuring (wrk, {args.duration} s per figure)…", flush=True)
            health_before = report("trivial view /health", load.measure(port, "/health"))
            # Warm-up: as many requests as the server could take at 2,000/s.
            warm = wrk_inbox(
                load,
                port,
                args.warmup,
                signing.sign(activities.take(args.warmup * 2000)),
                work,
                "warm",
            )
            report("inbox warm-up", warm.measure)
            # Twice the warm-up's pace, so that no thread runs out of requests.
            wanted = math.ceil(max(warm.measure.rps, 200) * args.duration * 2 + 500)
            rows_before, _tasks = inbound_counts()
            measured = wrk_inbox(
                load, port, args.duration, signing.sign(activities.take(wanted)), work, "measure"
            )
            report("POST /inbox", measured.measure)
            if measured.wraps:
                raise BenchmarkError(
                    f"wrk ran out of distinct requests ({measured.prepared} prepared): re-run"
                )
            health_after = report("trivial view /health", load.measure(port, "/health"))
            health = averaged(health_before, health_after)

            rate = args.latency_rate or measured.measure.rps / 2
            count = math.ceil(rate * args.latency_duration)
            print(f"Open loop at {rate:,.0f} req/s for {args.latency_duration} s…", flush=True)
            batch = signing.sign(activities.take(count))
            latency = open_loop(HOST, port, batch, rate)
            print("  " + latency_line(latency), flush=True)
            flood_rate = RATE_LIMIT_PER_MINUTE / 60 * FLOOD_FACTOR
            print(
                f"Open loop at {rate:,.0f} req/s again, while {FLOOD_ADDRESS} floods at "
                f"{flood_rate:,.0f} req/s…",
                flush=True,
            )
            ordinary = signing.sign(activities.take(count))
            flood = signing.sign(
                activities.take(math.ceil(flood_rate * args.latency_duration)), FLOOD_ADDRESS
            )
            exhaust_flood_quota(
                port, signing.sign(activities.take(3 * RATE_LIMIT_PER_MINUTE), FLOOD_ADDRESS)
            )
            flooded, flood_answers = open_loop_streams(
                HOST, port, [(ordinary, rate), (flood, flood_rate)]
            )
            print("  others: " + latency_line(flooded), flush=True)
            print(f"  flood answers: {dict(flood_answers.statuses)}", flush=True)
            print(f"Open loop at {rate:,.0f} req/s again, without the flood…", flush=True)
            latency_again = open_loop(HOST, port, signing.sign(activities.take(count)), rate)
            print("  " + latency_line(latency_again), flush=True)
            rows_after, waiting_after = inbound_counts()
            fetches = sink.fetches - fetches_before
            in_process = None
            if args.breakdown:
                print("Timing the same requests in this process…", flush=True)
                in_process = in_process_costs(
                    signing.sign(activities.take(args.breakdown + 21)), authority
                )
        answered = (
            measured.measure.requests
            - measured.measure.bad_status
            + latency.statuses.get(202, 0)
            + flooded.statuses.get(202, 0)
            + latency_again.statuses.get(202, 0)
        )
    figures = Figures(
        health=health,
        inbox=measured.measure,
        workers=args.workers,
        latency=latency,
        flooded=flooded,
        latency_again=latency_again,
        flood=flood_answers,
        rows_before=rows_before,
        rows_after=rows_after,
        waiting_after=waiting_after,
        answered_202=answered,
        fetches_while_measuring=fetches,
        warm_actors=fetches_before,
        in_process=in_process,
    )
    problems = []
    if fetches:
        problems.append(f"{fetches} actor fetches while measuring (the key cache missed)")
    if rows_after - rows_before < answered:
        problems.append(f"{answered} answers 202 but {rows_after - rows_before} rows stored")
    if measured.measure.bad_status or measured.measure.socket_errors:
        problems.append("wrk saw refused requests or socket errors")
    for problem in problems:
        print(f"warning: {problem}", flush=True)
    print()
    print(table(figures))
    if results is not None:
        write_results(figures, facts, args, command, results)
        print(f"\nWritten to {results}")
    if problems:
        raise BenchmarkError("; ".join(problems))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds of the wrk measure.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of warm-up per wrk measure.")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--workers", type=int, default=2, help="parvis serve --workers.")
    parser.add_argument("--actors", type=int, default=200, help="Remote actors signing.")
    parser.add_argument("--keys", type=int, default=8, help="RSA keys shared by the actors.")
    parser.add_argument("--mix", default=DEFAULT_MIX, help="Activity kinds and weights.")
    parser.add_argument(
        "--latency-duration", type=int, default=20, help="Seconds of the open-loop run."
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=0.0,
        help="Requests per second of the open-loop run (default: half of figure 1).",
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=300,
        help="Deliveries timed in-process after the measures (0: skip).",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose inbox section gets the figures ('-' for none).",
    )
    parser.add_argument(
        "--strict", action="store_true", help="Exit with status 1 when a target is missed."
    )
    args = parser.parse_args()
    results = None if str(args.results) == "-" else args.results
    command = " ".join(["python benchmarks/inbox.py", *sys.argv[1:]])
    try:
        figures = run(args, results, command)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    missed = [
        name
        for name, met in (
            ("throughput ratio", figures.ratio_met),
            ("p99", figures.latency_met),
            ("p99 under a flood", figures.flood_met),
        )
        if not met
    ]
    if missed:
        print("Targets missed: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
