"""A cell never reads the store's credentials: not in its environment, not in its ancestors'."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import runbook
from tests.cli.test_run import run_json

pytestmark = [pytest.mark.kernel, pytest.mark.postgres]

CANARY = "Canary-Store-Secret-5e1f"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: A cell that looks for the canary in its own environment and every ancestor's /proc environ.
PROBE = f"""\
import json, os
from pathlib import Path
canary = {CANARY[:10]!r} + {CANARY[10:]!r}
found, read, pid = [], [], os.getpid()
if any(canary in v for v in os.environ.values()):
    found.append('os.environ')
while pid > 1:
    pid = int(Path(f'/proc/{{pid}}/stat').read_text().rsplit(')', 1)[1].split()[1])
    try:
        environ = Path(f'/proc/{{pid}}/environ').read_bytes()
    except OSError:
        continue
    read.append(pid)
    if canary.encode() in environ or b'RUNBOOK_DB_' in environ or b'PGPASSWORD' in environ:
        found.append(pid)
Path('probe.json').write_text(json.dumps({{'found': found, 'read': read}}))
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database's URL with a ``{}`` password placeholder (trust auth)."""
    name = f"runbook_test_{secrets.token_hex(8)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres:{{}}@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_cell_finds_no_credential_in_any_environment_it_can_read(
    repo: Repository, postgres_url: str
) -> None:
    write_runbook(repo.runbooks_dir / "probe.ipynb", [("code", PROBE, [])])
    env = {
        "RUNBOOK_DB_URL": postgres_url,
        "RUNBOOK_DB_PASSWORD": CANARY,
        "PGPASSWORD": CANARY,
        "AWS_SECRET_ACCESS_KEY": CANARY,
    }
    planned = runbook(repo, "plan", "probe", "--as", "alice", "--json", **env)
    assert planned.returncode == 0, planned.stderr
    code, outcome, err = run_json(repo, json.loads(planned.stdout)["id"], "--yes", **env)
    assert code == 0, err
    # The run is in PostgreSQL: the handed-over password reached the store's URL.
    runs = json.loads(runbook(repo, "runs", "--json", **env).stdout)
    assert [r["id"] for r in runs] == [outcome["run"]]
    assert not (repo.state_dir / "runbook.db").exists()
    probe = json.loads(Path(repo.runbooks_dir / "probe.json").read_text())
    assert probe["found"] == []
    # The runbook process itself (the kernel's parent) was read: the probe was not blind.
    assert len(probe["read"]) >= 1
    assert CANARY not in err
