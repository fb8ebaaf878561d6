"""What every benchmark script needs: tools, processes, HTTP checks, wrk, results.

Shared by ``read_pages.py``, ``inbox.py``, ``drain.py`` and ``api.py``. The scripts run as
``python benchmarks/<name>.py``, so this folder is on ``sys.path`` and they
import ``_common`` directly; the leading underscore says it is no benchmark.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
# Loopback only: the benchmarks must never listen on or load another address.
HOST = "127.0.0.1"
DEFAULT_DOMAIN = "blois.localhost"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


class BenchmarkError(RuntimeError):
    """A set-up step or a pre-flight check failed: no figure would mean anything."""


# --- tools -------------------------------------------------------------------


def ensure_tools(names: Iterable[str] = ("wrk", "nginx")) -> None:
    """Install the given Debian packages (same name as their command) when missing."""
    missing = [name for name in names if shutil.which(name, path=SBIN_PATH) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchmarkError(f"{' and '.join(missing)} missing: run as root or apt-get install.")
    print(f"Installing {' '.join(missing)} with apt-get…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The nginx package starts its service on port 80 of every address unless
    # policy-rc.d forbids it; the benchmarks want nothing off the loopback.
    policy = Path("/usr/sbin/policy-rc.d")
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env=env,
            check=True,
            timeout=600,
        )
    finally:
        if created:
            policy.unlink()


def revision() -> str:
    """The commit measured, flagged when the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    # --no-optional-locks: a benchmark must not rewrite the index of a shared tree.
    changes = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    if not head:
        return "unknown (not a git checkout)"
    return f"{head} with uncommitted changes" if changes else head


def tool_version(command: list[str]) -> str:
    """The first line a tool prints about its version (stdout or stderr)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else ""


def cpu_model() -> str:
    """The CPU model name, for the results header."""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_facts() -> dict[str, str]:
    """Date, machine, load and software versions, recorded before a run starts."""
    import django
    import granian

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "python": platform.python_version(),
        "django": django.get_version(),
        "granian": granian.__version__,
        "revision": revision(),
    }


# --- processes -----------------------------------------------------------------


def free_port() -> int:
    """A TCP port of the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: list[str], log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group, and stop that group on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started for ``process``; SIGKILL it if it lingers."""
    # granian and nginx fork workers: signal the whole group we created.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def tail(path: Path, lines: int = 30) -> str:
    """The end of a log file, to explain a failure."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def parvis_command(*arguments: str) -> list[str]:
    """``parvis <arguments>`` run with the interpreter running the benchmark (the venv's)."""
    return [sys.executable, "-m", "parvis.core.cli", *arguments]


def quiet_step(command: list[str], env: Mapping[str, str], timeout: float = 300) -> str:
    """Run a set-up command; its output is shown only if it fails."""
    done = subprocess.run(
        command,
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"{' '.join(command[2:])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def install_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a throw-away install in ``data_dir``, served on ``port``.

    Inherited settings that would point the benchmark at a real install (its
    database, its media, debug mode) are removed.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "parvis.settings",
        "PARVIS_DATA_DIR": str(data_dir),
        "PARVIS_URL_SCHEME": "http",
        "PARVIS_URL_PORT": str(port),
        "PARVIS_ALLOWED_HOSTS": "*",
        "PARVIS_DEFAULT_DOMAIN": DEFAULT_DOMAIN,
        "PARVIS_LOG_LEVEL": "WARNING",
        # Besides --no-worker: a task worker polling the database inside the
        # web processes would take CPU from the requests being measured.
        "PARVIS_EMBEDDED_WORKER": "false",
        # A load generator is one client sending thousands of requests a second: the
        # limits stay on (their cost is measured) but far above what it sends.
        "PARVIS_API_RATE_LIMIT": "1000000000",
        "PARVIS_API_ANONYMOUS_RATE_LIMIT": "1000000000",
        "PARVIS_API_ADDRESS_RATE_LIMIT": "1000000000",
    }
    for name in ("DATABASE_URL", "PARVIS_MEDIA_ROOT", "PARVIS_DEBUG"):
        env.pop(name, None)
    env.update(extra)
    return env


# --- HTTP checks -----------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(
    port: int,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> Response:
    """One request to the loopback server on ``port``."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        answer = connection.getresponse()
        data = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    finally:
        connection.close()


def expect(port: int, path: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """GET ``path`` and stop the benchmark unless it answers ``status``."""
    response = fetch(port, path, headers)
    if response.status != status:
        raise BenchmarkError(
            f"GET http://{HOST}:{port}{path} answered {response.status}, expected {status}"
        )
    return response


def wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path, limit: float) -> None:
    """Wait until ``/health`` answers 200, or fail with the server's log."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"server exited with {process.returncode}:\n{tail(log)}")
        with suppress(OSError, http.client.HTTPException):
            if fetch(port, "/health").status == 200:
                return
        time.sleep(0.3)
    raise BenchmarkError(f"no answer on {HOST}:{port} after {limit:.0f} s:\n{tail(log)}")


# --- wrk -----------------------------------------------------------------------


@dataclass
class Measure:
    rps: float
    requests: int
    bytes_read: float
    bad_status: int
    socket_errors: str
    # The separate runs a reference averages, shown so that drift is visible.
    runs: tuple[float, ...] = ()
    # What a wrk Lua script printed in its done() hook (inbox.py's checks).
    script_output: str = ""
    # Seconds by percentile (50.0, 75.0, 90.0, 99.0), from ``wrk --latency`` (Load.latency).
    latency: dict[float, float] = field(default_factory=dict)

    @property
    def bytes_per_response(self) -> float:
        return self.bytes_read / self.requests if self.requests else 0.0

    def label(self) -> str:
        spread = " / ".join(f"{rps:,.0f}" for rps in self.runs)
        return f"{self.rps:,.0f}" + (f" ({spread})" if len(self.runs) > 1 else "")


def averaged(*measures: Measure) -> Measure:
    """One reference from runs taken before and after the figures it judges."""
    # A percentile averaged only when every run has it.
    shared = set.intersection(*(set(m.latency) for m in measures))
    return Measure(
        rps=sum(m.rps for m in measures) / len(measures),
        requests=sum(m.requests for m in measures),
        bytes_read=sum(m.bytes_read for m in measures),
        bad_status=sum(m.bad_status for m in measures),
        socket_errors="; ".join(m.socket_errors for m in measures if m.socket_errors),
        runs=tuple(m.rps for m in measures),
        latency={p: sum(m.latency[p] for m in measures) / len(measures) for p in sorted(shared)},
    )


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk_latency(output: str) -> dict[float, float]:
    """The "Latency Distribution" block of ``wrk --latency``: seconds by percentile."""
    block = re.search(r"Latency Distribution\n((?:[ \t]+[\d.]+%[ \t]+\S+[ \t]*\n)+)", output)
    if block is None:
        return {}
    return {
        float(percent): float(value) * _SECONDS[unit]
        for percent, value, unit in re.findall(
            r"([\d.]+)%[ \t]+([\d.]+)(us|ms|s|m|h)\b", block.group(1)
        )
    }


def parse_wrk(output: str) -> Measure:
    """The figures of wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read", output)
    if rps is None or total is None:
        raise BenchmarkError(f"unreadable wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    transfer = re.search(r"Transfer/sec:.*\n", output)
    return Measure(
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        bytes_read=float(total.group(2)) * _UNITS[total.group(3)],
        bad_status=int(bad.group(1)) if bad else 0,
        socket_errors=errors.group(1).strip() if errors else "",
        script_output=output[transfer.end() :].strip() if transfer else "",
        latency=parse_wrk_latency(output),
    )


@dataclass
class Load:
    threads: int
    connections: int
    duration: int
    warmup: int
    # wrk --latency: the report has the percentiles Measure.latency holds.
    latency: bool = False
    # wrk --timeout in seconds (wrk's default is 2 s; slower answers count as socket
    # errors and are left out of the latency figures).
    timeout: int | None = None

    def wrk(
        self,
        seconds: int,
        url: str,
        headers: Mapping[str, str],
        script: Path | None = None,
        script_args: Iterable[str] = (),
    ) -> str:
        """Run wrk for ``seconds`` and return its report."""
        command = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        if self.latency:
            command.append("--latency")
        if self.timeout is not None:
            command.append(f"--timeout={self.timeout}s")
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        if script is not None:
            command += ["-s", str(script)]
        command.append(url)
        if script is not None:
            # wrk hands what follows the URL to the script's init(args).
            command += ["--", *script_args]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=True
        )
        return done.stdout

    def measure(self, port: int, path: str, headers: Mapping[str, str] | None = None) -> Measure:
        """Requests per second of GET ``path``, after the warm-up."""
        url = f"http://{HOST}:{port}{path}"
        # The warm-up fills caches (Jinja templates, SQLite pages, connections).
        if self.warmup:
            self.wrk(self.warmup, url, headers or {})
        return parse_wrk(self.wrk(self.duration, url, headers or {}))


def sql_summary(sql: str) -> str:
    """``SELECT federation_remoteactor``: the verb and the first table of a statement."""
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    if table is None:
        return " ".join(sql.split()[:2])
    return f"{verb} {table.group(1)}"


def report(name: str, measure: Measure) -> Measure:
    """Print one measure as it is taken, with its refusals and socket errors."""
    line = f"  {name:<28} {measure.rps:>10,.0f} req/s"
    if measure.bad_status:
        line += f"  ({measure.bad_status} non-2xx/3xx responses)"
    if measure.socket_errors:
        line += f"  (socket errors: {measure.socket_errors})"
    print(line, flush=True)
    return measure


# --- results file ----------------------------------------------------------------

RESULTS_PREAMBLE = """# Benchmark results

Each section below is written by one script of this folder (see README.md
beside this file) and rewritten, between its `<!-- name -->` markers, each time
that script runs; the other sections are kept as they are. Ratios divide a
figure by a reference measured in the same run, on the same machine, so they
compare across machines where raw figures do not.
"""


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` between the ``<!-- name -->`` markers of ``path``, keeping the rest.

    A missing file is created with the common preamble; a missing section is
    appended. The file is locked while it is rewritten because several
    benchmark scripts may finish at the same time.
    """
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        current = handle.read() or RESULTS_PREAMBLE
        pattern = re.compile(rf"{re.escape(begin)}\n.*?{re.escape(end)}", re.DOTALL)
        if pattern.search(current):
            updated = pattern.sub(lambda _match: block, current, count=1)
        else:
            updated = current.rstrip("\n") + "\n\n" + block + "\n"
        handle.seek(0)
        handle.truncate()
        handle.write(updated)
