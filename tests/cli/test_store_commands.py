from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from runbook.model.repository import Repository
from runbook.store.db import HEAD_REVISION
from tests.conftest import Result

Cli = Callable[..., Result]
RUNBOOK = str(Path(sys.executable).with_name("runbook"))


def test_db_status_and_upgrade_on_sqlite(run_cli: Cli) -> None:
    fresh = json.loads(run_cli("db", "status", "--json").out)
    assert fresh["url"].startswith("sqlite:///") and fresh["revision"] is None
    upgraded = run_cli("db", "upgrade")
    assert upgraded.code == 0 and f"upgraded from empty to {HEAD_REVISION}" in upgraded.out
    assert json.loads(run_cli("db", "status", "--json").out)["up_to_date"]
    assert "nothing to do" in run_cli("db", "upgrade").out


def test_unreachable_store_is_one_line_without_the_password(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_DB_URL", "postgresql://rb:{}@127.0.0.1:1/rb")
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", "sekret-canary")
    result = run_cli("plans")
    assert result.code == 1
    assert "cannot connect" in result.err and "sekret-canary" not in result.err
    assert result.err.count("\n") == 1


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"runbook_cli_{secrets.token_hex(4)}"
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres:{{}}@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_the_whole_flow_on_postgresql(repo: Repository, postgres_url: str) -> None:
    env = {**os.environ, "RUNBOOK_DB_URL": postgres_url, "RUNBOOK_DB_PASSWORD": "unused"}

    def runbook(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RUNBOOK, *args],
            cwd=repo.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    upgraded = runbook("db", "upgrade")
    assert upgraded.returncode == 0 and f"upgraded from empty to {HEAD_REVISION}" in upgraded.stdout
    assert runbook("create", "Restart database").returncode == 0
    plan = json.loads(
        runbook("plan", "restart-database", "-p", "host", "db1", "--as", "alice", "--json").stdout
    )
    assert runbook("review", plan["id"], "--approve", "--as", "bob", "--quiet").returncode == 0
    shown = json.loads(runbook("show-plan", plan["id"], "--json").stdout)
    assert shown["status"] == "approved"
    status = json.loads(runbook("db", "status", "--json").stdout)
    assert status["url"].startswith("postgresql://postgres:***@")


def test_a_bad_lease_variable_is_one_line_naming_it(
    run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_LEASE_SECONDS", "soon")
    result = run_cli("runs")
    assert result.code == 1
    assert result.err == "runbook: error: RUNBOOK_LEASE_SECONDS: 'soon' is not a number\n"
