"""Real ``parvis serve`` processes for the live interop tests, and a console on their database.

Each server is a real granian process with its embedded worker, its own SQLite file,
data directory and settings (environment variables, as an operator sets them). The
test acts on a server and reads its state through a :class:`Console`: one long-lived
``parvis shell`` on the same database, which runs the snippets it is given and hands
back what they print; the running server's worker picks up whatever they queue.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

PARVIS = [sys.executable, "-m", "parvis.core.cli"]
T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def request(
    url: str,
    method: str = "GET",
    document: Any = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, bytes]:
    """Status and body of a loopback request (``document`` is sent as JSON)."""
    data = body
    if data is None and document is not None:
        data = json.dumps(document).encode()
    headers = dict(headers or {})
    if data is not None:
        headers.setdefault("Content-Type", "application/activity+json")
    prepared = urllib.request.Request(url, data, headers, method=method)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def tail(log: Path, lines: int = 60) -> str:
    """The end of a process's output, for failure messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Wait (30 s at most) until ``url`` answers 200; fail with the process's output."""
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{tail(log)}")
        try:
            if request(url)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer {url} within 30 s:\n{tail(log)}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a process we started, and make sure it is gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def poll(what: str, probe: Callable[[], T | None], timeout: float, report: Callable[[], str]) -> T:
    """``probe()``'s first truthy answer, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:.0f} s.\n{report()}")
        time.sleep(0.25)


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a Parvis process with its own data directory and settings."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    # Test clients send thousands of requests in a minute from one token and address.
    env.update(
        PARVIS_DATA_DIR=str(data_dir),
        PARVIS_API_RATE_LIMIT="1000000",
        PARVIS_API_ANONYMOUS_RATE_LIMIT="1000000",
        PARVIS_API_ADDRESS_RATE_LIMIT="1000000",
    )
    env.update(settings)
    return env


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``parvis <args>`` to completion (the caller checks its exit code)."""
    return subprocess.run(
        [*PARVIS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def migrate(env: dict[str, str]) -> None:
    """Create the database of ``env``'s data directory."""
    done = run(env, "migrate", "--verbosity", "0")
    assert done.returncode == 0, done.stderr


def copy_database(source: Path, target: Path) -> None:
    """Give ``target`` a copy of the (migrated, still empty) database of ``source``.

    Migrating takes seconds; a copy of the empty schema is the same database.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("parvis.sqlite3*"):
        shutil.copy2(path, target / path.name)


# The console's loop: each input line is a JSON string of Python code, run in one
# namespace kept between snippets; each answer is one line, marked so that anything
# else Django prints on stdout is told apart.
_MARK = "\x1e"
_CONSOLE = f"""
import contextlib, io, json, sys, traceback
namespace = {{}}
for line in sys.stdin:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(json.loads(line), namespace)
        answer = {{"out": out.getvalue()}}
    except Exception:
        answer = {{"out": out.getvalue(), "error": traceback.format_exc()}}
    sys.__stdout__.write({_MARK!r} + json.dumps(answer) + "\\n")
    sys.__stdout__.flush()
"""


class Console:
    """A long-lived ``parvis shell`` on a server's database (one start-up for all snippets)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self._process = subprocess.Popen(
            [*PARVIS, "shell", "--verbosity", "0", "-c", _CONSOLE],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._answers: queue.Queue[str] = queue.Queue()
        assert self._process.stdout is not None
        threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True).start()
        self.log = log

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            if line.startswith(_MARK):
                self._answers.put(line[len(_MARK) :])
        self._answers.put("")  # the shell exited

    def run(self, code: str, timeout: float = 60) -> str:
        """Run ``code``; what it printed (a failure in it fails the test)."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(code) + "\n")
        self._process.stdin.flush()
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"The console did not answer within {timeout:.0f} s:\n{code}")
        if not line:
            pytest.fail(f"The console exited:\n{tail(self.log)}")
        answer = json.loads(line)
        if "error" in answer:
            pytest.fail(f"Console code failed:\n{code}\n{answer['error']}")
        return answer["out"]

    def json(self, code: str) -> Any:
        """Run ``code``, which prints one JSON document last; that document."""
        return json.loads(self.run(code).strip().splitlines()[-1])

    def close(self) -> None:
        """End the shell (closing its input ends its loop)."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop(self._process)
        self._log.close()


@dataclass
class Server:
    """A running ``parvis serve`` and a console on its database."""

    base: str  # where the test reaches it
    env: dict[str, str]
    console: Console
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until_up(self) -> None:
        """Wait until the server answers (its start-up collects static files first)."""
        wait_until_up(f"{self.base}/health", self.process, "parvis serve", self.log)

    def federation_state(self) -> str:
        """Deliveries and received activities, for failure messages."""
        return self.console.run(
            "from parvis.federation.models import Delivery, InboundActivity\n"
            "for d in Delivery.objects.select_related('activity').order_by('pk'):\n"
            "    print('delivery', d.activity.uri, '->', d.inbox, d.state, d.attempts,"
            " d.last_status, d.last_error[:200])\n"
            "for i in InboundActivity.objects.order_by('pk'):\n"
            "    print('inbound', i.kind, i.uri, i.outcome)\n"
        )


@contextmanager
def serving(env: dict[str, str], data_dir: Path, listen: str, port: int) -> Iterator[Server]:
    """``parvis serve`` on ``listen:port`` and its console, both stopped on the way out.

    The caller waits for it with :meth:`Server.wait_until_up`, so that several servers
    start at once.
    """
    log = data_dir / "serve.log"
    console = Console(env, data_dir / "console.log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PARVIS, "serve", "--host", listen, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    host = f"[{listen}]" if ":" in listen else listen
    try:
        yield Server(f"http://{host}:{port}", env, console, process, log)
    finally:
        console.close()
        stop(process)
