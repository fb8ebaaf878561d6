"""`parvis serve` for real: granian, ASGI lifespan, static files and the embedded worker."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PARVIS = [sys.executable, "-m", "parvis.core.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PARVIS_DATA_DIR=str(tmp_path),
        PARVIS_ALLOWED_HOSTS="127.0.0.1",
        PARVIS_DEFAULT_DOMAIN="blois.localhost",
    )
    for args in (["migrate", "--verbosity", "0"], ["demo"]):
        done = subprocess.run(
            [*PARVIS, *args], env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stderr
    return env


def test_serve_answers_pages_static_files_and_runs_due_tasks(
    environment: dict[str, str], shared_data: Path
) -> None:
    # A scheduled post whose time has come: the embedded worker must publish it.
    make_due = subprocess.run(
        [
            *PARVIS,
            "shell",
            "-c",
            (
                "from django.utils import timezone;"
                "from django_tasks_db.models import DBTaskResult;"
                "from parvis.publishing.models import Draft;"
                "past = timezone.now() - timezone.timedelta(seconds=1);"
                "Draft.objects.filter(state='scheduled').update(scheduled_at=past);"
                "print(DBTaskResult.objects.filter(status='READY', task_path__endswith="
                "'publish_scheduled').update(run_after=past))"
            ),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert make_due.stdout.strip().endswith("1"), make_due.stderr
    port = _free_port()
    server = subprocess.Popen(
        [*PARVIS, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "parvis serve did not answer in 30 s"
            time.sleep(0.2)
        status, body = _get(f"{base}/@ville")
        assert status == 200 and "Ville de Blois" in body.decode()
        assert _get(f"{base}/static/dsfr/dist/dsfr.min.css")[0] == 200
        # The embedded worker polls every second.
        deadline = time.monotonic() + 20
        while "Jour de marché" not in _get(f"{base}/@ville")[1].decode():
            assert time.monotonic() < deadline, "the scheduled post was not published"
            time.sleep(0.5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
