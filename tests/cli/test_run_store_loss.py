"""`runbook run` on PostgreSQL when the store drops: retried through it, or interrupted (exit 3).

The run's store connections go through a TCP proxy the test cuts, so the connections really
drop; PostgreSQL's own pg_terminate_backend ends them from the server's side.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.kernel]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def database() -> Iterator[str]:
    name = f"runbook_loss_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        yield proxy


def gated_runbook(repo: Repository) -> None:
    """Cell N touches ``at-N`` and waits for ``go-N``: the test acts between the two."""
    wait = (
        "from pathlib import Path\nimport time\nPath('at-{n}').touch()\n"
        "while not Path('go-{n}').exists():\n    time.sleep(0.02)"
    )
    write_runbook(
        repo.runbooks_dir / "gated.ipynb",
        [("code", wait.format(n=0), []), ("code", wait.format(n=1), []), ("code", "1", [])],
    )


def start(
    repo: Repository, proxy: TcpProxy, database: str, **extra: str
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {
        **os.environ,
        "RUNBOOK_DB_URL": f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}",
        # No heartbeat during the test: the run's own writes are what meet the cut.
        "RUNBOOK_LEASE_SECONDS": "600",
        **extra,
    }
    assert runbook(repo, "db", "upgrade", **env).returncode == 0
    gated_runbook(repo)
    planned = runbook(repo, "plan", "gated", "--as", "alice", "--json", **env)
    assert planned.returncode == 0, planned.stderr
    plan_id = json.loads(planned.stdout)["id"]
    process = subprocess.Popen(
        [RUNBOOK, "run", plan_id, "--yes", "--as", "bob"],
        cwd=repo.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return process, env


def reached(marker: Path, process: subprocess.Popen[str]) -> None:
    """Wait until the kernel touches ``marker`` (the run is inside that cell)."""
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)


def terminate_backends(database: str) -> int:
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        ).fetchall()
    return len(rows)


def test_dropped_store_connections_are_retried_and_the_run_succeeds(
    repo: Repository, proxy: TcpProxy, database: str
) -> None:
    process, env = start(repo, proxy, database)
    reached(repo.runbooks_dir / "at-0", process)
    assert terminate_backends(database) >= 1  # the server ends the run's connections
    (repo.runbooks_dir / "go-0").touch()
    reached(repo.runbooks_dir / "at-1", process)
    proxy.cut()  # the network drops them, and refuses to connect again for a while
    (repo.runbooks_dir / "go-1").touch()
    assert proxy.refused.wait(120), "the run never tried to reconnect"
    proxy.restore()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err and err == ""
    run_id = out.split("log: runbook log ")[1].split()[0]
    log = json.loads(runbook(repo, "log", run_id, "--json", **env).stdout)
    assert log["state"] == "succeeded"
    assert [cell["status"] for cell in log["cells"]] == ["succeeded"] * 3


def test_a_store_that_stays_unreachable_ends_the_run_interrupted_with_exit_3(
    repo: Repository, proxy: TcpProxy, database: str
) -> None:
    process, env = start(repo, proxy, database, RUNBOOK_STORE_RETRY_SECONDS="1")
    reached(repo.runbooks_dir / "at-0", process)
    proxy.cut()
    (repo.runbooks_dir / "go-0").touch()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 3, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("runbook: error: run ")
    assert "interrupted: stopped after cell 0: the store cannot record it: cannot connect" in err
    assert "still failing after 1 s of retries" in err
    assert not (repo.runbooks_dir / "at-1").exists()  # nothing more ran
    run_id = err.split("runbook: error: run ")[1].split()[0]
    assert (repo.root / "runs" / run_id).is_dir()
    proxy.restore()
    (listed,) = json.loads(runbook(repo, "runs", "--json", **env).stdout)
    assert (listed["id"], listed["state"]) == (run_id, "interrupted")
