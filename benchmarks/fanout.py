"""Fan-out benchmark: one post delivered to 20,000 distinct inboxes, against its floors.

One run builds a throw-away install (a temporary directory, SQLite file unless
``--database-url`` names another database), starts a sink on 127.0.0.1 in its own
process (``fanout_sink.py``: answers 202, verifies 1% of the signatures) and measures,
each figure next to a reference taken in the same run:

1. fan-out rate: deliveries per second per worker core (deliveries ÷ the worker
   process's CPU seconds), against RSA-2048 signatures per second per core of the same
   Python (cryptography): every delivery is one signature, so 1.0× would mean the rest
   costs nothing. Target ≥ 0.5×;
2. fan-out fairness: the same post with 5% of the hosts black-holed (they accept the
   connection and never answer): time until every other inbox has it, against the run
   without black holes. Target ≤ 1.2×;
3. fan-out memory: peak RSS of the worker while fanning out the 5 kB activity of run 1,
   against its idle RSS. Target ≤ idle + 50 MB.

Every inbox has its own host name (``h00042.fanout.test``); the worker process answers
those names with 127.0.0.1 itself and refuses every other name, so nothing leaves the
machine. Usage: ``.venv/bin/python benchmarks/fanout.py`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common
from _common import HOST, BenchmarkError

ROOT = _common.ROOT
SINK = ROOT / "benchmarks" / "fanout_sink.py"
SECTION = "fanout"
FAKE_SUFFIX = ".fanout.test"
DOMAIN = _common.DEFAULT_DOMAIN
RATE_TARGET = 0.5
FAIRNESS_TARGET = 1.2
MEMORY_TARGET_MB = 50.0


# --- inside the worker process ------------------------------------------------------


def _loopback_names(port_of: dict[str, int]) -> None:
    """Answer ``*.fanout.test`` with 127.0.0.1 and refuse every other name."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(FAKE_SUFFIX):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (HOST, int(port)))]
        if name in ("127.0.0.1", "localhost"):
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"the benchmark resolves no {name}")

    socket.getaddrinfo = getaddrinfo


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchmarkError(f"no {field} in /proc/self/status")


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _document(actor: str, run: str, size: int) -> dict[str, Any]:
    """A Create of a public Note whose JSON is ``size`` bytes long."""
    note = f"{actor}/fanout/{run}"
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "id": f"{note}/activity",
        "type": "Create",
        "actor": actor,
        "published": "2026-01-01T12:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [f"{actor}/followers"],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": actor,
            "content": "",
            "published": "2026-01-01T12:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [f"{actor}/followers"],
        },
    }
    bare = len(json.dumps(document, separators=(",", ":")))
    document["object"]["content"] = "<p>" + "Alerte météo. " * 1000
    text = document["object"]["content"][: max(0, size - bare - 7)]
    document["object"]["content"] = text + "</p>"
    return document


def prepare(public_key: Path) -> None:
    """Create the account that posts, and its keys; write its public key for the sink."""
    import django

    django.setup()
    from parvis.federation.keys import keys_for
    from parvis.identity.models import AccountKind, Domain, Institution, InstitutionKind
    from parvis.identity.services import create_account

    domain, _ = Domain.objects.get_or_create(name=DOMAIN)
    institution = Institution.objects.create(
        kind=InstitutionKind.COMMUNE, name="Ville de Blois", insee_code="41018"
    )
    account = create_account(
        domain=domain,
        handle="ville",
        kind=AccountKind.INSTITUTION,
        display_name="Ville de Blois",
        institution=institution,
    )
    public_key.write_text(keys_for(account).rsa_public_pem)


def worker(config: dict[str, Any]) -> None:
    """Queue one activity to the configured inboxes and run the tasks until done."""
    import django

    django.setup()
    _loopback_names({})
    # What a worker has loaded once it has sent anything: imported before "idle".
    import httptools  # noqa: F401
    import uvloop  # noqa: F401
    from django.db.models import Count

    from parvis.core.tasks import run_pending
    from parvis.federation import ids
    from parvis.federation.delivery import queue_activity
    from parvis.federation.keys import keys_for, rsa_private_key
    from parvis.federation.models import Delivery
    from parvis.identity.models import Account

    account = Account.objects.select_related("domain").get(handle="ville", domain__name=DOMAIN)
    rsa_private_key(keys_for(account))  # the key cache of a worker that already signed
    document = _document(ids.actor_uri(account), config["run"], config["body_bytes"])
    inboxes = [
        f"http://h{i:05d}{FAKE_SUFFIX}:{config['black_hole_port' if hole else 'port']}/inbox"
        for i, hole in enumerate(_holes(config["inboxes"], config["hole_share"]))
    ]
    time.sleep(0.5)
    idle_kb = _memory_kb("VmRSS")
    started, cpu_started = time.time(), _cpu()
    queue_activity(account, document, inboxes)
    queued, cpu_queued = time.time(), _cpu()
    while run_pending():
        pass
    finished, cpu_finished = time.time(), _cpu()
    deliveries = Delivery.objects.filter(activity__uri=document["id"])
    states = dict(deliveries.values_list("state").annotate(n=Count("id")))
    # The black holes' retries must not run in the next run's worker and cost it CPU.
    deliveries.filter(state=Delivery.State.PENDING).update(
        state=Delivery.State.GIVEN_UP, last_error="benchmark run over"
    )
    result = {
        "body_bytes": len(json.dumps(document, ensure_ascii=False, separators=(",", ":"))),
        "started": started,
        "queue_seconds": queued - started,
        "total_seconds": finished - started,
        "queue_cpu": cpu_queued - cpu_started,
        "total_cpu": cpu_finished - cpu_started,
        "idle_kb": idle_kb,
        "peak_kb": _memory_kb("VmHWM"),
        "states": states,
    }
    print("RESULT " + json.dumps(result), flush=True)


# --- the driver -------------------------------------------------------------------


def rsa_per_cpu_second(seconds: float) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per CPU second, one thread."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = (
        b"(request-target): post /inbox\nhost: h00042.fanout.test\n"
        b"date: Thu, 01 Jan 2026 12:00:00 GMT\ndigest: SHA-256=" + b"A" * 44
    )
    count, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for _ in range(50):
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 50
    return count / (time.process_time() - started)


def sink_call(port: int, method: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method, data=b"")
    # The default opener honours *_proxy variables: this one never leaves 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        return json.loads(answer.read())


def wait_for_port(port: int, limit: float = 15) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchmarkError(f"nothing listens on {HOST}:{port}")


@dataclass
class Run:
    """One fan-out: what the worker measured and what the sink received."""

    name: str
    healthy: int
    holes: int
    worker: dict[str, Any]
    sink: dict[str, Any]

    @property
    def reach_seconds(self) -> float:
        """From the start of the fan-out to the first receipt of the last healthy inbox."""
        return float(self.sink["last_new_at"]) - float(self.worker["started"])

    @property
    def per_core(self) -> float:
        return self.healthy / self.worker["total_cpu"]

    @property
    def per_second(self) -> float:
        return self.healthy / self.reach_seconds

    def check(self) -> None:
        """Stop if the run did not deliver exactly what it should have."""
        sink, states = self.sink, self.worker["states"]
        problems = []
        if sink["unique"] != self.healthy:
            problems.append(f"{sink['unique']} inboxes reached instead of {self.healthy}")
        if sink["duplicates"]:
            problems.append(f"{sink['duplicates']} duplicate deliveries")
        if not sink["verified"] or sink["verify_failures"]:
            problems.append(
                f"signatures: {sink['verified']} verified, failures {sink['verify_failures']}"
            )
        if states.get("sent", 0) != self.healthy:
            problems.append(f"{states.get('sent', 0)} deliveries recorded sent")
        if states.get("pending", 0) != self.holes:
            problems.append(f"{states.get('pending', 0)} pending instead of {self.holes}")
        if problems:
            raise BenchmarkError(f"run {self.name}: " + "; ".join(problems))


def _holes(inboxes: int, share: float) -> list[bool]:
    """Which inboxes are black-holed: one in ``1 / share``, spread over the list."""
    every = round(1 / share) if share else 0
    return [bool(every) and i % every == every // 2 for i in range(inboxes)]


def fan_out(
    name: str,
    env: dict[str, str],
    ports: tuple[int, int],
    inboxes: int,
    hole_share: float,
    body_bytes: int,
    log: Path,
) -> Run:
    """Run one fan-out in a fresh worker process and collect both sides' figures."""
    holes = _holes(inboxes, hole_share)
    config = {
        "run": name,
        "inboxes": inboxes,
        "hole_share": hole_share,
        "port": ports[0],
        "black_hole_port": ports[1],
        "body_bytes": body_bytes,
    }
    sink_call(ports[0], "POST", "/_reset")
    print(f"Fan-out {name}: {inboxes:,} inboxes, {sum(holes):,} black-holed…", flush=True)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    log.write_text(done.stdout + done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise BenchmarkError(f"worker failed ({done.returncode}):\n{_common.tail(log)}")
    run = Run(
        name,
        healthy=inboxes - sum(holes),
        holes=sum(holes),
        worker=json.loads(lines[-1][len("RESULT ") :]),
        sink=sink_call(ports[0], "GET", "/_stats"),
    )
    run.check()
    return run


def run(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, Any]]:
    """Measure the three figures; return the table rows and the facts around them."""
    facts: dict[str, Any] = {"load": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="parvis-fanout-") as folder:
        data = Path(folder)
        env = _common.install_env(
            data,
            8000,
            PARVIS_HTTP_ALLOW_PRIVATE="127.0.0.1/32",
            PYTHONPATH=str(ROOT / "benchmarks"),
        )
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        print("Migrating a throw-away database…", flush=True)
        _common.quiet_step(_common.parvis_command("migrate", "--no-input"), env)
        public_key = data / "public.pem"
        _common.quiet_step([sys.executable, __file__, "--prepare", str(public_key)], env)
        print("Reference: RSA-2048 signatures per CPU second…", flush=True)
        before = rsa_per_cpu_second(args.reference_seconds)
        ports = (_common.free_port(), _common.free_port())
        sink_command = [
            sys.executable,
            str(SINK),
            "--port",
            str(ports[0]),
            "--black-hole-port",
            str(ports[1]),
            "--public-key",
            str(public_key),
            "--verify-every",
            str(args.verify_every),
        ]
        with _common.running(sink_command, data / "sink.log", env):
            wait_for_port(ports[0])
            # The run without black holes is made before and after the one with them
            # and averaged: other work on the machine moves wall-clock times.
            clean = fan_out(
                "clean", env, ports, args.inboxes, 0, args.body_bytes, data / "clean.log"
            )
            holed = fan_out(
                "black-holes",
                env,
                ports,
                args.inboxes,
                args.black_holes,
                args.body_bytes,
                data / "holes.log",
            )
            again = fan_out(
                "clean-again", env, ports, args.inboxes, 0, args.body_bytes, data / "again.log"
            )
        after = rsa_per_cpu_second(args.reference_seconds)
    reference = (before + after) / 2
    per_core = (clean.per_core + again.per_core) / 2
    per_second = (clean.per_second + again.per_second) / 2
    clean_reach = (clean.reach_seconds + again.reach_seconds) / 2
    rate = per_core / reference
    fairness = holed.reach_seconds / clean_reach
    idle_mb = clean.worker["idle_kb"] / 1024
    peak_mb = clean.worker["peak_kb"] / 1024
    rows = [
        [
            "1 fan-out rate, deliveries per worker CPU second",
            f"{per_core:,.0f} ({clean.per_core:,.0f} / {again.per_core:,.0f}; "
            f"{per_second:,.0f}/s wall)",
            f"RSA-2048 signatures per CPU second {reference:,.0f} ({before:,.0f} / {after:,.0f})",
            f"{rate:.2f}x",
            f">= {RATE_TARGET:.1f}x",
            "yes" if rate >= RATE_TARGET else "no",
        ],
        [
            f"2 fan-out fairness, time to reach the {holed.healthy:,} others",
            f"{holed.reach_seconds:.1f} s",
            f"without black holes {clean_reach:.1f} s "
            f"({clean.reach_seconds:.1f} / {again.reach_seconds:.1f})",
            f"{fairness:.2f}x",
            f"<= {FAIRNESS_TARGET:.1f}x",
            "yes" if fairness <= FAIRNESS_TARGET else "no",
        ],
        [
            "3 fan-out memory, worker peak RSS",
            f"{peak_mb:,.0f} MB",
            f"idle RSS {idle_mb:,.0f} MB",
            f"+{peak_mb - idle_mb:,.0f} MB",
            f"<= +{MEMORY_TARGET_MB:.0f} MB",
            "yes" if peak_mb - idle_mb <= MEMORY_TARGET_MB else "no",
        ],
    ]
    facts.update(
        clean=clean,
        holed=holed,
        again=again,
        met=[rate >= RATE_TARGET, fairness <= FAIRNESS_TARGET, peak_mb - idle_mb <= 50],
    )
    return rows, facts


def table(rows: list[list[str]]) -> str:
    header = ["Figure", "Measured", "Reference", "Ratio", "Target", "Met?"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def describe(run: Run) -> str:
    w, s = run.worker, run.sink
    return (
        f"{run.healthy:,} inboxes reached in {run.reach_seconds:.1f} s; worker "
        f"{w['total_cpu']:.1f} CPU s ({w['queue_cpu']:.1f} s of it storing the "
        f"{run.healthy + run.holes:,} Delivery rows, {w['queue_seconds']:.1f} s wall), "
        f"task runs ended after {w['total_seconds']:.1f} s; sink {s['requests']:,} requests, "
        f"{s['duplicates']} duplicates, {s['verified']} signatures verified, "
        f"{s['cpu_seconds']:.1f} CPU s"
    )


def write_results(rows: list[list[str]], facts: dict[str, Any], args: argparse.Namespace) -> str:
    clean, holed = facts["clean"], facts["holed"]
    names = ["1 rate", "2 fairness", "3 memory"]
    missed = [name for name, met in zip(names, facts["met"], strict=True) if not met]
    summary = "All targets met." if not missed else "Missed: " + ", ".join(missed) + "."
    database = "the given `--database-url`" if args.database_url else "SQLite (WAL), one file"
    text = f"""## Fan-out: one post to {args.inboxes:,} inboxes

Written by `benchmarks/fanout.py`.

- Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
- Code: {_common.revision()}
- Machine: {len(os.sched_getaffinity(0))} CPUs (`nproc`), {_common.cpu_model()}; load
  average before the run: {facts["load"]}
- Command: `{" ".join(["python", "benchmarks/fanout.py", *sys.argv[1:]])}`
- Worker: one process running the task runner (`run_pending`, what `parvis worker` runs)
  on {database}; `queue_activity` then `fan_out` runs until none is due; default
  settings (`PARVIS_DELIVERY_CONCURRENCY`, `PARVIS_DELIVERY_PER_HOST`); a
  {clean.worker["body_bytes"]:,}-byte Create, signed draft-cavage RSA-2048 per delivery
- Inboxes: `http://hNNNNN.fanout.test:PORT/inbox`, one host name each, resolved to
  127.0.0.1 by the worker process itself (every other name refused); plain HTTP (no TLS
  handshakes); the sink (`benchmarks/fanout_sink.py`, its own process) answers 202 and
  verifies one signature in {args.verify_every}; black holes accept and never answer
- Run without black holes: {describe(clean)}
- Run with {holed.holes:,} black-holed hosts ({args.black_holes:.0%}): {describe(holed)};
  each black hole held its slot for the 20 s delivery deadline and is left pending for its
  retry in a minute
- Run without black holes again: {describe(facts["again"])}
- Figures 1 and 2 use the mean of the two runs without black holes; figure 3 the first
- Worker and sink share the machine's CPUs; the per-core figure divides by the worker's
  own CPU time (all of its threads)

{table(rows)}

{summary}
"""
    _common.write_section(args.results, SECTION, text)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inboxes", type=int, default=20_000)
    parser.add_argument("--black-holes", type=float, default=0.05, help="share of hosts")
    parser.add_argument("--body-bytes", type=int, default=5 * 1024)
    parser.add_argument("--verify-every", type=int, default=100)
    parser.add_argument("--reference-seconds", type=float, default=3.0)
    parser.add_argument("--database-url", help="e.g. postgres://… (default: a SQLite file)")
    parser.add_argument("--results", default=str(_common.RESULTS), help="'-' for no file")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        return 0
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    args.results = None if args.results == "-" else Path(args.results)
    try:
        rows, facts = run(args)
    except BenchmarkError as error:
        print(f"Benchmark stopped: {error}", file=sys.stderr)
        return 2
    print()
    print(table(rows))
    summary = "All targets met." if all(facts["met"]) else "Some targets missed."
    if args.results is not None:
        summary = write_results(rows, facts, args)
        print(f"\nWritten to {args.results}")
    print(summary)
    return 1 if args.strict and not all(facts["met"]) else 0


if __name__ == "__main__":
    sys.exit(main())
