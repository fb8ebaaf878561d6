"""Roster import benchmark: 600,000 mandates into SQLite and PostgreSQL, and the directory.

The script builds a national-size roster of the Répertoire national des élus from the
real samples (``_roster_data.py``: mayors, municipal and departmental councillors, every
person distinct but for 1% of homonyms) and, for each database, in a throw-away install:

1. imports a roster ten times smaller into a fresh install (the memory reference);
2. imports the whole roster into another fresh install: wall time, rows per second and
   the importer's peak RSS (``wait4``), each next to a reference measured in the same
   run: reading the same files with the reading layer alone (no database), the peak RSS
   of ``parvis roster import --help`` (Django loaded) and of the small import;
3. imports the same files again (nothing may change), then the variant with 1% of the
   rows changed and 0.2% new ones;
4. serves the install (``parvis serve --workers 2 --no-worker``) and measures
   ``GET /directory/?q=…`` with ``wrk --latency`` for family names, given and family
   name, accented and accent-free words, a partial word, a commune and a word that
   matches nothing, next to ``GET /health`` of the same server.

Targets (issue 5): full import ≤ 10 minutes with memory flat in the file size, an
unchanged re-import ≥ 5× faster than the first import, directory search p99 ≤ 50 ms.

Usage: ``.venv/bin/python benchmarks/roster.py`` (see benchmarks/README.md). Rewrites its
section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _common import (
    DEFAULT_DOMAIN,
    HOST,
    RESULTS,
    ROOT,
    BenchmarkError,
    Load,
    Measure,
    averaged,
    ensure_tools,
    fetch,
    free_port,
    install_env,
    machine_facts,
    parse_wrk,
    parvis_command,
    quiet_step,
    running,
    sql_summary,
    stop_group,
    tail,
    tool_version,
    wait_until_up,
    write_section,
)
from _roster_data import Roster, generate, load_samples
from api import PostgresUnavailable, _shortened, masked, throwaway_postgres

SECTION = "roster"
DATABASES = ("sqlite", "postgresql")
IMPORT_TARGET = 600.0  # seconds, full import
REIMPORT_TARGET = 5.0  # first import ÷ unchanged re-import
MEMORY_TARGET = 1.5  # peak RSS of the full import ÷ that of the 10× smaller one
SEARCH_TARGET = 0.050  # seconds, p99 of the directory searches
_COUNT_RE = re.compile(r"<p>(\d+) comptes?\b")

WRK_PATHS = """
local paths = {}
local counter = 0
function init(args)
  for i, path in ipairs(args) do paths[i] = path end
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
"""


# --- child processes, measured ----------------------------------------------------------


@dataclass
class Child:
    """A finished child process: wall and CPU seconds, peak RSS, what it printed."""

    seconds: float
    cpu: float
    peak_kb: int
    rss_over_time: list[tuple[float, int]]  # (share of the run, RSS in kB), sampled
    code: int

    def rss_at(self, share: float) -> int:
        """The RSS sampled nearest to ``share`` of the run (0 to 1), in kB."""
        if not self.rss_over_time:
            return 0
        return min(self.rss_over_time, key=lambda sample: abs(sample[0] - share))[1]


def _rss_kb(pid: int) -> int:
    with suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measured(command: list[str], env: Mapping[str, str], log: Path, timeout: float) -> Child:
    """Run ``command`` alone and measure it: ``wait4`` gives this child's own peak RSS and
    CPU time (not the cumulative maximum of every child of this script)."""
    samples: list[tuple[float, int]] = []
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        began = time.monotonic()
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                elapsed = time.monotonic() - began
                if elapsed > timeout:
                    what = " ".join(command[2:5])
                    raise BenchmarkError(f"{what}… still running after {timeout:.0f} s")
                samples.append((elapsed, _rss_kb(process.pid)))
                time.sleep(0.25)
        except BaseException:
            stop_group(process)
            raise
        seconds = time.monotonic() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    return Child(
        seconds=seconds,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_kb=usage.ru_maxrss,
        rss_over_time=[(at / seconds, kb) for at, kb in samples if kb],
        code=process.returncode,
    )


def read_files(config: dict[str, Any]) -> None:
    """The reference: read the roster with the reading layer alone (a child process)."""
    import django

    django.setup()
    from parvis.identity.rosters import RosterEntry, read_roster

    began = time.perf_counter()
    entries = rejections = 0
    for path in config["files"]:
        for item in read_roster(path):
            if isinstance(item, RosterEntry):
                entries += 1
            else:
                rejections += 1
    seconds = time.perf_counter() - began
    result = {"entries": entries, "rejections": rejections, "seconds": seconds}
    print("RESULT " + json.dumps(result), flush=True)


def breakdown(config: dict[str, Any]) -> None:
    """Each directory request through Django's test client, with its SQL (a child process,
    after the server stopped): where the time goes."""
    import django

    django.setup()
    from collections import Counter

    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=config["host"])
    statements: list[tuple[str, float]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((sql, time.perf_counter() - began))

    result = {}
    count = config["requests"]
    for path in config["paths"]:
        client.get(path)
        statements.clear()
        began = time.perf_counter()
        with connection.execute_wrapper(record):
            for _ in range(count):
                status = client.get(path).status_code
        total = (time.perf_counter() - began) / count
        if status != 200:
            raise BenchmarkError(f"{path} answered {status} in the test client")
        costs: Counter[str] = Counter()
        for sql, seconds in statements:
            costs[sql_summary(sql)] += seconds
        slowest = max(statements, key=lambda item: item[1], default=("(no SQL)", 0.0))
        result[path] = {
            "ms": total * 1000,
            "statements": len(statements) / count,
            "sql_ms": sum(seconds for _sql, seconds in statements) / count * 1000,
            "costliest": [(sql, seconds / count * 1000) for sql, seconds in costs.most_common(3)],
            "slowest_sql": _shortened(slowest[0]),
            "slowest_ms": slowest[1] * 1000,
        }
    print("RESULT " + json.dumps(result), flush=True)


# --- databases ------------------------------------------------------------------------------


def _postgres(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def reset_postgres(url: str, first: bool) -> None:
    """Empty the throw-away database: the small and the full import each start fresh."""
    with _postgres(url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
        if first and tables:
            raise BenchmarkError(f"the PostgreSQL database is not empty ({tables} tables)")
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def database_facts(url: str | None, data_dir: Path) -> dict[str, Any]:
    """Accounts, officials and mandates stored, and the size of the database."""
    query = (
        "SELECT (SELECT count(*) FROM identity_account), "
        "(SELECT count(*) FROM identity_official), (SELECT count(*) FROM identity_mandate), "
        "(SELECT count(*) FROM identity_institution)"
    )
    if url is None:
        path = data_dir / "parvis.sqlite3"
        with sqlite3.connect(path) as connection:
            counts = connection.execute(query).fetchone()
        size = sum(p.stat().st_size for p in data_dir.glob("parvis.sqlite3*"))
        server = f"SQLite {sqlite3.sqlite_version}"
    else:
        with _postgres(url) as connection:
            counts = connection.execute(query).fetchone()
            size = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            server = " ".join(connection.execute("SELECT version()").fetchone()[0].split()[:2])
    accounts, officials, mandates, institutions = counts
    return {
        "accounts": accounts,
        "officials": officials,
        "mandates": mandates,
        "institutions": institutions,
        "bytes": size,
        "server": server,
    }


def analyse_postgres(url: str) -> None:
    with _postgres(url) as connection:
        connection.execute("ANALYZE")


# --- one database -----------------------------------------------------------------------------


@dataclass
class Import:
    name: str
    child: Child
    report: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.report.get("rows", 0))

    @property
    def rate(self) -> float:
        return self.rows / self.child.seconds if self.child.seconds else 0.0

    def counts(self) -> str:
        keys = ("created", "updated", "ended", "unchanged", "rejected")
        return ", ".join(f"{key} {self.report.get(key, 0):,}" for key in keys)


@dataclass
class Search:
    name: str
    path: str
    results: int | None
    measure: Measure

    def ms(self, percentile: float) -> float:
        return self.measure.latency.get(percentile, float("nan")) * 1000


@dataclass
class DatabaseRun:
    name: str
    label: str
    read: dict[str, Any] = field(default_factory=dict)
    read_child: Child | None = None
    idle: Child | None = None
    imports: dict[str, Import] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    health: Measure | None = None
    searches: list[Search] = field(default_factory=list)
    others: list[Search] = field(default_factory=list)
    mix: Search | None = None
    costs: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unavailable: str = ""

    @property
    def full(self) -> Import | None:
        return self.imports.get("full")

    def met(self) -> dict[str, bool | None]:
        full, small = self.full, self.imports.get("small")
        again = self.imports.get("again")
        return {
            "import": None if full is None else full.child.seconds <= IMPORT_TARGET,
            "memory": None
            if full is None or small is None
            else full.child.peak_kb <= MEMORY_TARGET * small.child.peak_kb,
            "reimport": None
            if full is None or again is None
            else full.child.seconds >= REIMPORT_TARGET * again.child.seconds,
            "search": None if self.mix is None else self.mix.ms(99.0) <= SEARCH_TARGET * 1000,
        }


def _child_result(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise BenchmarkError(f"no result:\n{output[-2000:]}")
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def run_import(
    name: str,
    files: Sequence[Path],
    env: Mapping[str, str],
    folder: Path,
    args: argparse.Namespace,
) -> Import:
    report = folder / f"{name}.json"
    command = parvis_command("roster", "import", *map(str, files), "--domain", DEFAULT_DOMAIN,
                             "--no-progress", "--report-json", str(report))  # fmt: skip
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    log = folder / f"{name}.log"
    child = measured(command, env, log, timeout=args.timeout)
    if child.code != 0 or not report.exists():
        raise BenchmarkError(f"roster import ({name}) exited with {child.code}:\n{tail(log, 40)}")
    done = Import(name, child, json.loads(report.read_text()))
    print(
        f"    {name:<8} {done.rows:>9,} rows in {child.seconds:7.1f} s "
        f"({done.rate:,.0f} rows/s; in-command {done.report.get('seconds', 0):.1f} s), "
        f"CPU {child.cpu:.1f} s, peak RSS {child.peak_kb / 1024:.0f} MB; {done.counts()}",
        flush=True,
    )
    return done


def _migrate(env: Mapping[str, str]) -> None:
    quiet_step(parvis_command("migrate", "--verbosity", "0"), env, timeout=900)


def run_database(
    run: DatabaseRun,
    url: str | None,
    rosters: Mapping[str, Roster],
    args: argparse.Namespace,
    load: Load,
    work: Path,
) -> None:
    folder = work / f"run-{run.name}"
    folder.mkdir()
    port = free_port()
    full, small = rosters["full"], rosters["small"]

    def env_for(data: str) -> dict[str, str]:
        return install_env(folder / data, port, **({"DATABASE_URL": url} if url else {}))

    # References: the reading layer alone over the same files, and Django's floor.
    env = env_for("small")
    print(f"[{run.name}] reference: reading {full.rows:,} rows without a database…", flush=True)
    config = json.dumps({"files": [str(p) for p in full.base]})
    command = [sys.executable, __file__, "--internal-read", config]
    run.read_child = measured(command, env, folder / "read.log", timeout=args.timeout)
    if run.read_child.code != 0:
        raise BenchmarkError(f"reading failed:\n{tail(folder / 'read.log')}")
    run.read = _child_result((folder / "read.log").read_text())
    print(
        f"    read     {run.read['entries']:>9,} rows in {run.read_child.seconds:7.1f} s "
        f"({run.read['entries'] / run.read_child.seconds:,.0f} rows/s), peak RSS "
        f"{run.read_child.peak_kb / 1024:.0f} MB; {run.read['rejections']} rejected",
        flush=True,
    )
    help_command = parvis_command("roster", "import", "--help")
    run.idle = measured(help_command, env, folder / "idle.log", timeout=300)

    # The memory reference: a roster ten times smaller, into a fresh install.
    print(f"[{run.name}] fresh install, import of {small.rows:,} rows…", flush=True)
    if url:
        reset_postgres(url, first=True)
    _migrate(env)
    run.imports["small"] = run_import("small", small.base, env, folder, args)

    # The full roster into another fresh install, again, then the changed variant.
    env = env_for("full")
    if url:
        reset_postgres(url, first=False)
    else:
        shutil.rmtree(folder / "small", ignore_errors=True)
    print(f"[{run.name}] fresh install, import of {full.rows:,} rows…", flush=True)
    _migrate(env)
    run.imports["full"] = run_import("full", full.base, env, folder, args)
    print(f"[{run.name}] re-import of the same files, then of the 1% changed ones…", flush=True)
    run.imports["again"] = run_import("again", full.base, env, folder, args)
    run.imports["changed"] = run_import("changed", full.changed, env, folder, args)
    check_reports(run, full, small)
    if url:
        analyse_postgres(url)
    run.facts = database_facts(url, folder / "full")
    if args.search:
        measure_directory(run, env, port, full, args, load, folder)


def check_reports(run: DatabaseRun, roster: Roster, small: Roster) -> None:
    """What each import must have done; a difference is reported, not hidden."""
    expected = {
        "small": {"created": small.rows, "rejected": 0, "updated": 0, "ended": 0},
        "full": {"created": roster.rows, "rejected": 0, "updated": 0, "ended": 0},
        "again": {"created": 0, "updated": 0, "ended": 0, "rejected": 0},
        "changed": {
            "created": roster.new_rows,
            "updated": roster.changed_rows,
            "ended": 0,
            "rejected": 0,
        },
    }
    for name, counts in expected.items():
        report = run.imports[name].report
        for key, value in counts.items():
            if report.get(key) != value:
                run.problems.append(f"{name} import: {key} {report.get(key)}, expected {value:,}")
    for problem in run.problems:
        print(f"[{run.name}] CHECK FAILED: {problem}", flush=True)


# --- the directory ----------------------------------------------------------------------------


def search_terms(roster: Roster) -> list[tuple[str, str]]:
    """(what, query): words people type, names and places of the generated roster."""
    from unicodedata import combining, normalize

    def plain(text: str) -> str:
        return "".join(c for c in normalize("NFKD", text) if not combining(c)).lower()

    accented = roster.terms.get("accented", "Lefèvre")
    commune = roster.terms.get("commune", "Vendôme")
    return [
        ("family name", "martin"),
        ("family name with an accent, typed with it", accented),
        ("the same without the accent", plain(accented)),
        ("given and family name", roster.terms.get("person", "Marie Martin")),
        ("partial word", "bern"),
        ("commune, with its accent", commune),
        ("commune, without it", plain(commune)),
        ("no match", "zqxjw"),
    ]


def _results(port: int, path: str) -> int | None:
    answer = fetch(port, path)
    if answer.status != 200:
        raise BenchmarkError(f"GET {path} answered {answer.status}")
    found = _COUNT_RE.search(answer.body.decode("utf-8", "replace"))
    return int(found.group(1)) if found else None


def measure_directory(
    run: DatabaseRun,
    env: Mapping[str, str],
    port: int,
    roster: Roster,
    args: argparse.Namespace,
    load: Load,
    folder: Path,
) -> None:
    accounts = run.facts.get("accounts", 0)
    print(f"[{run.name}] directory search at {accounts:,} accounts (wrk)…", flush=True)
    searches = [(name, "/directory/?" + urlencode({"q": q})) for name, q in search_terms(roster)]
    others = [
        ("no filter (first page)", "/directory/"),
        ("département filter (41)", "/directory/?departement=41"),
    ]
    script = folder / "paths.lua"
    script.write_text(WRK_PATHS)
    serve = parvis_command("serve", "--host", HOST, "--port", str(port), "--workers",
                           str(args.workers), "--no-worker")  # fmt: skip
    log = folder / "parvis.log"
    with running(serve, log, env) as server:
        wait_until_up(port, server, log, limit=120)
        counts = {path: _results(port, path) for _name, path in [*searches, *others]}
        for name, path in searches[:-1]:
            if not counts[path]:
                run.problems.append(f"directory: {name} ({path}) finds nothing")
        health_before = _report(run.name, "GET /health", load.measure(port, "/health"))
        for name, path in searches:
            measure = load.measure(port, path)
            run.searches.append(Search(name, path, counts[path], _report(run.name, path, measure)))
        url = f"http://{HOST}:{port}/"
        output = load.wrk(args.mix_duration, url, {}, script, [p for _n, p in searches])
        mix = parse_wrk(output)
        run.mix = Search("all the searches above, in turn", "(mix)", None, mix)
        _report(run.name, f"mix of {len(searches)} searches", mix)
        for name, path in others:
            measure = load.measure(port, path)
            run.others.append(Search(name, path, counts[path], _report(run.name, path, measure)))
        health_after = _report(run.name, "GET /health", load.measure(port, "/health"))
        run.health = averaged(health_before, health_after)
    if args.breakdown:
        print(f"[{run.name}] timing each request in one process (test client)…", flush=True)
        paths = [path for _name, path in [*searches, *others]]
        config = json.dumps({"host": f"{HOST}:{port}", "requests": args.breakdown, "paths": paths})
        log = folder / "breakdown.log"
        child = measured([sys.executable, __file__, "--internal-breakdown", config], env, log, 3600)
        if child.code != 0:
            raise BenchmarkError(f"breakdown failed:\n{tail(log)}")
        run.costs = _child_result(log.read_text())
    for search in [*run.searches, *run.others, run.mix]:
        if search.measure.bad_status or search.measure.socket_errors:
            run.problems.append(
                f"{search.path}: {search.measure.bad_status} non-2xx/3xx, socket errors "
                f"{search.measure.socket_errors or 0}"
            )


def _report(database: str, name: str, measure: Measure) -> Measure:
    p50, p99 = (measure.latency.get(p, float("nan")) * 1000 for p in (50.0, 99.0))
    print(
        f"  [{database}] {name:<52} {measure.rps:>8,.0f} req/s  p50 {p50:>8.2f} ms  "
        f"p99 {p99:>8.2f} ms",
        flush=True,
    )
    return measure


# --- report ---------------------------------------------------------------------------------


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def _yes(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def _ms(search: Search, percentile: float) -> str:
    return f"{search.ms(percentile):,.1f}"


def _took(done: Import) -> str:
    inside = float(done.report.get("seconds", 0))
    return (
        f"{done.child.seconds:,.1f} s ({inside:,.1f} s by the command's report), "
        f"{done.rate:,.0f} rows/s"
    )


def import_table(run: DatabaseRun) -> str:
    full, small = run.full, run.imports.get("small")
    again, changed = run.imports.get("again"), run.imports.get("changed")
    if full is None or small is None or run.read_child is None or run.idle is None:
        return ""
    read_rate = run.read["entries"] / run.read_child.seconds
    met = run.met()
    wall = full.child.seconds
    lines = [
        "| Figure | Measured | Reference (same run) | Ratio | Target | Met? |",
        "|---|---|---|---|---|---|",
        f"| Reading the {run.read['entries']:,} rows, no database (reference) | "
        f"{run.read_child.seconds:,.1f} s, {read_rate:,.0f} rows/s, peak RSS "
        f"{_mb(run.read_child.peak_kb)} | — | — | — | — |",
        f"| `parvis roster import --help`: Django loaded (reference) | "
        f"{run.idle.seconds:,.1f} s, peak RSS {_mb(run.idle.peak_kb)} | — | — | — | — |",
        f"| Import of {small.rows:,} rows, fresh install (reference) | {_took(small)}, peak RSS "
        f"{_mb(small.child.peak_kb)} | — | — | — | — |",
        f"| **Full import of {full.rows:,} rows**, fresh install | {_took(full)}; "
        f"{wall / 60:.1f} min | reading alone {read_rate:,.0f} rows/s | "
        f"{full.rate / read_rate:.3f}x | ≤ {IMPORT_TARGET / 60:.0f} min | {_yes(met['import'])} |",
        f"| Full import: peak RSS | {_mb(full.child.peak_kb)} (RSS at 25 / 50 / 75 % of the "
        f"run: {_mb(full.child.rss_at(0.25))} / {_mb(full.child.rss_at(0.5))} / "
        f"{_mb(full.child.rss_at(0.75))}) | the import of {small.rows:,} rows "
        f"{_mb(small.child.peak_kb)}; Django loaded {_mb(run.idle.peak_kb)} | "
        f"{full.child.peak_kb / small.child.peak_kb:.2f}x for "
        f"{full.rows / small.rows:.0f}x the rows | ≤ {MEMORY_TARGET:g}x (flat) | "
        f"{_yes(met['memory'])} |",
    ]
    if again is not None:
        lines.append(
            f"| **Re-import, unchanged files** | {_took(again)}; {again.counts()} | the full "
            f"import {wall:,.1f} s | {wall / again.child.seconds:.1f}x faster | "
            f"≥ {REIMPORT_TARGET:g}x | {_yes(met['reimport'])} |"
        )
    if changed is not None:
        lines.append(
            f"| Re-import, 1% changed + 0.2% new rows | {_took(changed)}; {changed.counts()} | "
            f"the full import {wall:,.1f} s | {wall / changed.child.seconds:.1f}x faster | — | "
            "— |"
        )
    lines.append(
        "| CPU time of the import process (full / unchanged / changed) | "
        + " / ".join(f"{i.child.cpu:,.1f} s" for i in (full, again, changed) if i)
        + f" | wall {wall:,.1f} s | {full.child.cpu / wall:.2f} of a core | — | — |"
    )
    return "\n".join(lines)


def costs_table(run: DatabaseRun) -> str:
    if not run.costs:
        return ""
    lines = [
        "| Request | ms per request | SQL statements | ms in SQL | Costliest (ms per request) "
        "| Slowest statement |",
        "|---|---|---|---|---|---|",
    ]
    for path, cost in run.costs.items():
        costliest = ", ".join(f"`{sql}` {ms:.1f}" for sql, ms in cost["costliest"])
        # Without table qualifiers and quotes, the WHERE and ORDER BY fit in the cell.
        slowest = re.sub(r'"\w+"\.', "", cost["slowest_sql"]).replace('"', "")
        slowest = slowest.replace("|", "\\|")[:400]
        lines.append(
            f"| `{path}` | {cost['ms']:,.1f} | {cost['statements']:.0f} | {cost['sql_ms']:,.1f} "
            f"| {costliest} | {cost['slowest_ms']:,.1f} ms: `{slowest}` |"
        )
    return "\n".join(lines)


def search_table(run: DatabaseRun) -> str:
    if run.health is None or run.mix is None:
        return ""
    health = run.health
    h50, h99 = health.latency.get(50.0, float("nan")), health.latency.get(99.0, float("nan"))
    lines = [
        "| Request | Accounts found | req/s | p50 ms | p99 ms | p50 ÷ `/health` p50 | "
        "p99 ÷ `/health` p99 | Target | Met? |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| `GET /health` (reference; before / after) | — | {health.rps:,.0f} "
        f"({' / '.join(f'{r:,.0f}' for r in health.runs)}) | {h50 * 1000:.2f} | "
        f"{h99 * 1000:.2f} | 1 | 1 | — | — |",
    ]
    target = f"p99 ≤ {SEARCH_TARGET * 1000:.0f} ms"
    rows = [(s, "search") for s in run.searches] + [(run.mix, "mix")]
    for search, role in [*rows, *((s, "other") for s in run.others)]:
        within = search.ms(99.0) <= SEARCH_TARGET * 1000
        met = {"search": _yes(within), "mix": _yes(within), "other": "—"}[role]
        found = "—" if search.results is None else f"{search.results:,}"
        name = f"**{search.name}**" if role == "mix" else f"{search.name}: `{search.path}`"
        lines.append(
            f"| {name} | {found} | {search.measure.rps:,.1f} | {_ms(search, 50.0)} | "
            f"{_ms(search, 99.0)} | {search.ms(50.0) / (h50 * 1000):,.1f}x | "
            f"{search.ms(99.0) / (h99 * 1000):,.1f}x | "
            f"{'—' if role == 'other' else target} | {met} |"
        )
    return "\n".join(lines)


def summary(runs: Sequence[DatabaseRun]) -> str:
    parts = []
    for run in runs:
        if run.unavailable:
            parts.append(f"{run.label}: not measured ({run.unavailable}).")
            continue
        met = run.met()
        named = {
            "import": "full import ≤ 10 min",
            "memory": "memory flat",
            "reimport": "unchanged re-import ≥ 5× faster",
            "search": "directory search p99 ≤ 50 ms",
        }
        missed = [named[key] for key, value in met.items() if value is False]
        kept = [named[key] for key, value in met.items() if value]
        text = f"{run.label}: met: {', '.join(kept) or 'none'}"
        text += f"; **missed: {', '.join(missed)}**." if missed else "."
        if run.problems:
            text += " Checks failed: " + "; ".join(run.problems) + "."
        parts.append(text)
    return "\n\n".join(parts)


def roster_line(rosters: Mapping[str, Roster]) -> str:
    full, small = rosters["full"], rosters["small"]
    files = ", ".join(f"`{name}` {rows:,}" for name, rows in full.files.items())
    changes = ", ".join(f"`{name}` {rows:,}" for name, rows in full.changes_by_file.items())
    return (
        f"{full.rows:,} mandates in 3 RNE files ({files}; {full.bytes / 1e6:,.0f} MB) built by "
        f"`benchmarks/_roster_data.py` from the real samples: real communes, cantons, dates and "
        f"categories, new people ({full.people:,} distinct pairs of names, "
        f"{full.homonyms:,} homonyms: same names, another birth date). The changed variant: "
        f"{full.changed_rows:,} rows given a function label and its start date ({changes}), "
        f"{full.new_rows:,} new councillors, nothing removed. The smaller roster: "
        f"{small.rows:,} rows of the same shape."
    )


def write_results(
    runs: Sequence[DatabaseRun],
    rosters: Mapping[str, Roster],
    facts: Mapping[str, str],
    load: Load,
    args: argparse.Namespace,
    command: str,
    path: Path,
) -> None:
    blocks = []
    for run in runs:
        if run.unavailable:
            blocks.append(f"### {run.label}\n\nNot measured: {run.unavailable}")
            continue
        f = run.facts
        stored = (
            f"{f.get('server', '')}: after the imports, {f.get('accounts', 0):,} accounts, "
            f"{f.get('officials', 0):,} officials, {f.get('mandates', 0):,} mandates, "
            f"{f.get('institutions', 0):,} institutions; database "
            f"{f.get('bytes', 0) / 1e6:,.0f} MB"
        )
        costs = costs_table(run)
        if costs:
            costs = (
                f"Where the directory's time goes: each request {args.breakdown} times in one "
                "process through Django's test client after the server stopped, with its SQL:"
                f"\n\n{costs}"
            )
        blocks.append(
            f"### {run.label}\n\n{stored}.\n\n{import_table(run)}\n\n{search_table(run)}\n\n{costs}"
        )
    text = f"""## Roster import: 600,000 mandates

Written by `benchmarks/roster.py`.

- Date: {facts["date"]}
- Code: {facts["revision"]}
- Machine: {facts["nproc"]} CPUs (`nproc`), {facts["cpu"]}; load average before the run:
  {facts["load"]}
- Software: Python {facts["python"]}, Django {facts["django"]}, granian {facts["granian"]},
  {facts.get("wrk", "")}
- Command: `{command}`
- Roster: {roster_line(rosters)}
- Imports: `parvis roster import FILE… --domain {DEFAULT_DOMAIN} --no-progress --report-json …`
  each in its own process, timed from start to exit (Django start-up included), peak RSS
  and CPU time of that process from `wait4` (the PostgreSQL server's own memory and CPU are
  not counted). References, same run: the three files read by the reading layer alone
  (`read_roster`, no database) in a process of their own, the peak RSS of
  `parvis roster import --help` and an import of the smaller roster into a fresh install.
  PostgreSQL: {facts["postgres"]}; it gets an `ANALYZE` after the imports, before the
  searches (as autovacuum would); SQLite is left as the imports leave it.
- Directory: `parvis serve --host {HOST} --port … --workers {args.workers} --no-worker`,
  `wrk --latency --timeout={load.timeout}s -t{load.threads} -c{load.connections}
  -d{load.duration}s` per request after a {load.warmup} s warm-up, then
  {args.mix_duration} s of all the searches in turn (a Lua script): the target is that mix's
  p99. `/health` is measured before and after and averaged. wrk shares the CPUs with the
  server. "Accounts found" is the count the page shows.

{chr(10).join(blocks)}

{summary(runs)}
"""
    write_section(path, SECTION, text)


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, results: Path | None, command: str) -> list[DatabaseRun]:
    if args.search:
        ensure_tools(("wrk",))
    facts = machine_facts()
    if args.search:
        facts["wrk"] = tool_version(["wrk", "-v"]).split(" [")[0]
    load = Load(
        args.threads, args.connections, args.duration, args.warmup, latency=True, timeout=60
    )
    wanted = [name.strip() for name in args.databases.split(",") if name.strip()]
    if not wanted or set(wanted) - set(DATABASES):
        raise BenchmarkError(f"--databases takes {', '.join(DATABASES)}; got {args.databases}")
    runs: list[DatabaseRun] = []
    with workspace(args.keep) as work:
        samples = load_samples()
        rosters = {}
        for name, rows in (("full", args.rows), ("small", args.small_rows or args.rows // 10)):
            began = time.monotonic()
            try:
                rosters[name] = generate(work / f"roster-{name}", rows, args.seed, samples)
            except ValueError as error:
                raise BenchmarkError(f"roster ({name}): {error}") from None
            print(
                f"Roster ({name}): {rosters[name].rows:,} rows, "
                f"{rosters[name].bytes / 1e6:,.1f} MB, written in "
                f"{time.monotonic() - began:.1f} s; changed variant: "
                f"{rosters[name].changed_rows:,} rows changed, {rosters[name].new_rows:,} new, "
                "none removed",
                flush=True,
            )
        for name in wanted:
            database = DatabaseRun(name, "SQLite" if name == "sqlite" else "PostgreSQL")
            runs.append(database)
            try:
                if name == "sqlite":
                    run_database(database, None, rosters, args, load, work)
                elif args.database_url:
                    facts["postgres"] = "the database `--database-url` names"
                    run_database(database, args.database_url, rosters, args, load, work)
                else:
                    with throwaway_postgres(work) as url:
                        facts["postgres"] = (
                            "a throw-away server started by the script on 127.0.0.1 "
                            "(scripts/postgres.sh's settings: fsync and full_page_writes off)"
                        )
                        run_database(database, url, rosters, args, load, work)
            except PostgresUnavailable as error:
                database.unavailable = f"PostgreSQL could not be started: {error}"
                facts["postgres"] = database.unavailable
                print(f"[postgresql] NOT MEASURED: {database.unavailable}", flush=True)
            except (BenchmarkError, subprocess.CalledProcessError) as error:
                database.unavailable = f"failed: {error}"
                print(f"[{name}] FAILED: {error}", flush=True)
    facts.setdefault("postgres", "not requested (`--databases`)")
    for database in runs:
        tables = [import_table(database), search_table(database), costs_table(database)]
        print(f"\n{database.label}\n\n" + "\n\n".join(t for t in tables if t))
    print()
    print(summary(runs))
    if results is not None:
        write_results(runs, rosters, facts, load, args, command, results)
        print(f"\nWritten to {results}")
    return runs


@contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="parvis-roster-"))
    # The throw-away PostgreSQL server runs as postgres and needs to reach its folder.
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        if keep:
            print(f"Kept: {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000, help="Mandates in the roster.")
    parser.add_argument(
        "--small-rows", type=int, default=0, help="The memory reference's roster (rows / 10)."
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="Comma-separated: sqlite, postgresql (default: both). PostgreSQL is the "
        "database --database-url names, or else a throw-away server the script starts "
        "(needs root and the postgresql package); if it cannot, the run says so and goes on.",
    )
    parser.add_argument(
        "--database-url",
        "--postgres-url",
        dest="database_url",
        default="",
        help="An empty, throw-away PostgreSQL database (postgres://…): the script empties "
        "its public schema before each fresh install.",
    )
    parser.add_argument("--seed", type=int, default=2026, help="Random seed of the roster.")
    parser.add_argument("--batch-size", type=int, default=0, help="Importer's --batch-size.")
    parser.add_argument(
        "--timeout", type=float, default=3 * 3600, help="Seconds allowed to each import."
    )
    parser.add_argument(
        "--search",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Measure the directory search after the imports.",
    )
    parser.add_argument("--duration", type=int, default=5, help="Seconds per search measure.")
    parser.add_argument("--mix-duration", type=int, default=15, help="Seconds of the mix.")
    parser.add_argument("--warmup", type=int, default=1, help="Seconds of warm-up per measure.")
    parser.add_argument("--connections", type=int, default=2, help="wrk connections.")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads.")
    parser.add_argument("--workers", type=int, default=2, help="parvis serve --workers.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose roster section gets the figures ('-' for none).",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="Exit with status 1 when a target is missed, a check fails or a database "
        "was not measured.",
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=10,
        help="Directory requests per path timed in one process with their SQL (0: skip).",
    )
    parser.add_argument("--internal-read", dest="internal_read", help=argparse.SUPPRESS)
    parser.add_argument("--internal-breakdown", dest="internal_breakdown", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.internal_read:
        read_files(json.loads(args.internal_read))
        return 0
    if args.internal_breakdown:
        breakdown(json.loads(args.internal_breakdown))
        return 0
    results = None if str(args.results) == "-" else args.results
    command = " ".join(["python benchmarks/roster.py", *masked(sys.argv[1:])])
    try:
        runs = run(args, results, command)
    except (BenchmarkError, subprocess.CalledProcessError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    if any(run.unavailable.startswith("failed") for run in runs):
        return 2
    missed = any(value is False for run in runs for value in run.met().values())
    troubled = any(run.problems or run.unavailable for run in runs)
    return 1 if args.strict and (missed or troubled) else 0


if __name__ == "__main__":
    sys.exit(main())
