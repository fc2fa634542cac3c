"""Pooled run processes: a booted kernel per run, told its plan, never reused, refilled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.model.gates import RunEventKind
from runbook.model.repository import Repository
from runbook.model.run import RunMode, RunState
from runbook.orchestrate.live_events import follow
from runbook.orchestrate.live_runs import LiveRunRequest, start_live_run
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.run_pool import RunPool
from runbook.store.db import ensure_schema, make_engine
from runbook.store.runs import get_run
from tests.builders import write_runbook
from tests.orchestrate.live import make_plan

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

TELLS = (
    "import os\n"
    "print(os.environ['RUNBOOK_RUN_ID'], os.environ['RUNBOOK_PLAN_ID'],"
    " os.environ['RUNBOOK_DRY_RUN'], os.environ.get('PGPASSWORD'), os.getcwd())"
)


@pytest.fixture
def sessions(repo: Repository) -> sessionmaker[Session]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    return sessionmaker(engine)


@pytest.fixture
def pool(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunPool]:
    # A credential in the server's environment: no pooled kernel may see it.
    monkeypatch.setenv("PGPASSWORD", "server-secret")
    pool = RunPool(repo, size=1)
    assert pool.wait_ready()
    yield pool
    pool.close()


def _output(sessions: sessionmaker[Session], run_id: str) -> str:
    return "".join(
        str(e.data["text"]) for e in follow(sessions, run_id) if e.kind is RunEventKind.CELL_OUTPUT
    )


def test_a_pooled_process_runs_one_plan_with_its_variables_and_is_replaced(
    repo: Repository, sessions: sessionmaker[Session], pool: RunPool
) -> None:
    plan_id = make_plan(repo, sessions, [("code", TELLS, [])])
    worker = pool.take(plan_id)
    assert worker is not None
    url = database_url(repo.root)
    started = start_live_run(repo, url, LiveRunRequest(plan_id, "bob"), worker)

    told = _output(sessions, started.run_id).split()
    assert told == [started.run_id, plan_id, "0", "None", str(repo.runbooks_dir)]
    with sessions() as session:
        assert get_run(session, started.run_id).state is RunState.SUCCEEDED
    assert worker.process.wait(timeout=60) == 0  # one run, then gone
    assert pool.wait_ready()  # refilled in the background
    fresh = pool.take(plan_id)
    assert fresh is not None and fresh.process.pid != worker.process.pid
    # A dry run on the fresh one: the kernel is told so before any cell.
    dry = start_live_run(repo, url, LiveRunRequest(plan_id, "bob", RunMode.DRY_RUN), fresh)
    assert _output(sessions, dry.run_id).split()[2] == "1"


def test_a_plan_running_elsewhere_than_the_pool_gets_a_fresh_process(
    repo: Repository, sessions: sessionmaker[Session], pool: RunPool
) -> None:
    path = write_runbook(repo.runbooks_dir / "root.ipynb", [("code", TELLS, [])])
    with sessions.begin() as session:
        plan_id = plan_runbook(session, repo, Path(path), {}, planner="alice", cwd=".").id
    assert pool.take(plan_id) is None
    started = start_live_run(repo, database_url(repo.root), LiveRunRequest(plan_id, "bob"))
    assert _output(sessions, started.run_id).split()[-1] == str(repo.root)
    assert pool.ready() == 1  # not spent on it
