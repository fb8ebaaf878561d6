"""The `parvis` command as an operator uses it: a real subprocess on a scratch SQLite file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PARVIS = [sys.executable, "-m", "parvis.core.cli"]


def _run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    environment = {**inherited, "PARVIS_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [*PARVIS, *args], capture_output=True, text=True, env=environment, timeout=180, check=False
    )


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    assert _run(["migrate", "--verbosity", "0"], tmp_path).returncode == 0
    return tmp_path


def test_demo_builds_officials_from_the_real_rosters(installed: Path, shared_data: Path) -> None:
    result = _run(["demo"], installed)
    assert result.returncode == 0, result.stderr
    assert "Demo loaded" in result.stdout
    listing = _run(
        [
            "shell",
            "-c",
            (
                "from parvis.identity.models import Account, Mandate;"
                "print(sorted(Account.objects.values_list('handle', flat=True)));"
                "print(Mandate.objects.filter(function_account__handle='maire').get().official)"
            ),
        ],
        installed,
    )
    assert "'maire'" in listing.stdout and "'ville'" in listing.stdout
    # The mayor of Blois comes from the RNE sample, not from the code.
    mayors = (shared_data / "france/rne/2026-04-24/elus-maires-mai.csv").read_text()
    blois = next(line for line in mayors.splitlines() if ";41018;" in line).split(";")
    assert f"{blois[7]} {blois[6]}" in listing.stdout
    again = _run(["demo"], installed)
    assert again.returncode == 0 and "nothing done" in again.stdout


def test_demo_fails_clearly_without_shared_data(installed: Path, tmp_path: Path) -> None:
    result = _run(["demo"], installed, PARVIS_SHARED_DATA=str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert "is missing" in result.stderr


def test_check_passes_and_deploy_check_warns(installed: Path) -> None:
    result = _run(["check"], installed)
    assert result.returncode == 0, result.stderr
    deploy = _run(["check", "--deploy"], installed, PARVIS_URL_SCHEME="http")
    assert "parvis.W001" in deploy.stderr + deploy.stdout
    assert "parvis.W002" in deploy.stderr + deploy.stdout


def test_check_reports_unreachable_database(tmp_path: Path) -> None:
    result = _run(["check"], tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:9/none")
    assert result.returncode != 0
    assert "parvis.E001" in result.stderr


def test_createstaff_with_role_and_bad_arguments(installed: Path, shared_data: Path) -> None:
    assert _run(["demo"], installed).returncode == 0
    ok = _run(
        ["createstaff", "alice", "--role", "ville@blois.localhost:publisher"],
        installed,
        PARVIS_STAFF_PASSWORD="long-enough-pass",
    )
    assert ok.returncode == 0, ok.stderr
    for args, env, message in [
        (["createstaff", "bob"], {}, "PARVIS_STAFF_PASSWORD"),
        (["createstaff", "eve"], {"PARVIS_STAFF_PASSWORD": "password1"}, "trop courant"),
        (["createstaff", "alice"], {"PARVIS_STAFF_PASSWORD": "long-enough-pass"}, "already exists"),
        (
            ["createstaff", "carol", "--role", "ville@blois.localhost:king"],
            {"PARVIS_STAFF_PASSWORD": "long-enough-pass"},
            "expected handle@domain:ROLE",
        ),
        (
            ["createstaff", "dan", "--role", "ghost@blois.localhost:editor"],
            {"PARVIS_STAFF_PASSWORD": "long-enough-pass"},
            "no account @ghost@blois.localhost",
        ),
    ]:
        result = _run(args, installed, **env)
        assert result.returncode != 0
        assert message in result.stderr, (args, result.stderr)


def test_worker_once_drains_due_tasks(installed: Path) -> None:
    result = _run(["worker", "--once"], installed)
    assert result.returncode == 0, result.stderr
    assert "0 task(s) run." in result.stdout


def test_unknown_command_is_an_error(installed: Path) -> None:
    result = _run(["fly"], installed)
    assert result.returncode != 0 and "Unknown command" in result.stderr
