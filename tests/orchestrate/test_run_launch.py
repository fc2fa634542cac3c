"""The early launch reads the plan file once: the checks verify, and the kernel runs, that text."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.engine.operators import AutomaticOperator
from runbook.errors import RunRefusedError
from runbook.model.ids import plan_file
from runbook.model.repository import Repository
from runbook.model.run import RunState
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.run_launch import launch_early
from runbook.orchestrate.running import RunRequest, start_run
from runbook.store.db import ensure_schema, make_engine
from tests.builders import write_runbook

pytestmark = pytest.mark.kernel


@pytest.fixture
def sessions(repo: Repository) -> sessionmaker[Session]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    return sessionmaker(engine)


def _plan(repo: Repository, sessions: sessionmaker[Session]) -> str:
    runbook = write_runbook(
        repo.runbooks_dir / "mark.ipynb",
        [("code", "from pathlib import Path\nPath('ran').write_text('as planned')", [])],
    )
    with sessions() as session:
        return plan_runbook(session, repo, runbook, {}, planner="alice").id


def _swap(repo: Repository, plan_id: str) -> None:
    path = plan_file(repo, plan_id)
    path.write_text(path.read_text().replace("as planned", "swapped"))


def test_a_file_swapped_after_the_launch_read_it_does_not_change_what_runs(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    plan_id = _plan(repo, sessions)
    early = launch_early(repo, plan_id, dry_run=False)
    _swap(repo, plan_id)  # between the one read and the checks
    request = RunRequest(plan_id, "bob", AutomaticOperator("bob", yes=True), early=early)
    result = start_run(sessions, repo, request)
    assert result.run.state is RunState.SUCCEEDED
    assert (repo.runbooks_dir / "ran").read_text() == "as planned"


def test_a_file_swapped_before_the_launch_is_refused(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    plan_id = _plan(repo, sessions)
    _swap(repo, plan_id)
    request = RunRequest(plan_id, "bob", AutomaticOperator("bob", yes=True))
    with pytest.raises(RunRefusedError, match="was modified after planning"):
        start_run(sessions, repo, request)
    assert not (repo.runbooks_dir / "ran").exists()


def test_a_plan_without_its_local_file_runs_from_the_store(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    plan_id = _plan(repo, sessions)
    written = plan_file(repo, plan_id).read_bytes()
    plan_file(repo, plan_id).unlink()  # as on another workstation of the same store
    early = launch_early(repo, plan_id, dry_run=False)
    assert early.plan_file is None and early.kernel is None  # nothing to launch from
    request = RunRequest(plan_id, "bob", AutomaticOperator("bob", yes=True), early=early)
    result = start_run(sessions, repo, request)
    assert result.run.state is RunState.SUCCEEDED
    assert (repo.runbooks_dir / "ran").read_text() == "as planned"
    assert plan_file(repo, plan_id).read_bytes() == written  # the cache, from the store
