"""Ids and paths read back from a tampered store never steer a read or a write elsewhere.

Each command that builds a path from a record (export, log, review, run) is given a record
whose id or path points outside its folder; each refuses in one line, or ignores the path,
and touches nothing outside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import nbformat
import pytest
from sqlalchemy.orm import Session

from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.run import Run, RunMode, RunState
from runbook.orchestrate.planning import plan_runbook
from runbook.store.plans import create_plan
from runbook.store.runs import create_run, finish_run
from tests.builders import write_runbook
from tests.conftest import Result

Cli = Callable[..., Result]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GOOD_RUN = "20260301-120000-abcd"


@pytest.fixture
def real_plan(repo: Repository, session: Session) -> Iterator[Plan]:
    path = write_runbook(repo.runbooks_dir / "hello.ipynb", [("code", "print('hi')", [])])
    yield plan_runbook(session, repo, path, {}, planner="alice")


def _finished_run(session: Session, run_id: str, plan_id: str, notebook_path: str) -> None:
    create_run(
        session,
        Run(
            id=run_id,
            plan_id=plan_id,
            executor="bob",
            mode=RunMode.AUTOMATIC,
            state=RunState.RUNNING,
            started_at=T0,
            notebook_path=notebook_path,
            lease_owner="elsewhere:1",
        ),
    )
    finish_run(session, run_id, 1, RunState.SUCCEEDED, now=T0)
    session.commit()


def _secret_notebook(path: str, repo: Repository) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("OUTSIDE-SECRET")]
    target = repo.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def test_export_refuses_a_hostile_run_id_and_a_notebook_path_outside_its_run(
    run_cli: Cli, repo: Repository, session: Session, real_plan: Plan
) -> None:
    _secret_notebook("runbooks/other.ipynb", repo)
    # Before the fix this wrote runbooks/report.html (runs/../runbooks/).
    _finished_run(session, "../runbooks", real_plan.id, "runbooks/other.ipynb")
    refused = run_cli("export", "../runbooks")
    assert refused.code == 2
    assert refused.err.strip().endswith(
        "'../runbooks': is not a run id (such as 20261123-120000-abcd)"
    )
    assert len(refused.err.strip().splitlines()) == 1
    assert not (repo.runbooks_dir / "report.html").exists()

    _finished_run(session, GOOD_RUN, real_plan.id, "runbooks/other.ipynb")
    elsewhere = run_cli("export", GOOD_RUN)
    assert elsewhere.code == 2 and f"is outside runs/{GOOD_RUN}/" in elsewhere.err
    assert not (repo.runs_dir / GOOD_RUN / "report.html").exists()


def test_log_reads_only_the_runs_own_folder(
    run_cli: Cli, repo: Repository, session: Session, real_plan: Plan
) -> None:
    elsewhere = repo.root.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "log.jsonl").write_text('{"event": "run.started", "plan": "OUTSIDE-SECRET"}\n')
    _finished_run(session, GOOD_RUN, real_plan.id, "../elsewhere/x.ipynb")
    shown = run_cli("log", GOOD_RUN)
    assert shown.code == 0 and "OUTSIDE-SECRET" not in shown.out

    _finished_run(session, "../../elsewhere", real_plan.id, "../elsewhere/x.ipynb")
    refused = run_cli("log", "../../elsewhere")
    assert refused.code == 2 and "is not a run id" in refused.err
    assert "OUTSIDE-SECRET" not in refused.out


def test_review_never_shows_a_notebook_outside_runs_plans(
    run_cli: Cli, repo: Repository, session: Session, real_plan: Plan
) -> None:
    _secret_notebook("../outside.ipynb", repo)
    create_plan(
        session,
        dataclasses.replace(
            real_plan, id="hostile-a1b2c3", notebook_path="../outside.ipynb", runbook_path=".."
        ),
    )
    session.commit()
    refused = run_cli("review", "hostile-a1b2c3", "--approve", "--as", "bob")
    assert refused.code == 2
    assert "'../outside.ipynb': must be a relative path without '..'" in refused.err
    assert "OUTSIDE-SECRET" not in refused.out
    listed = run_cli("plans", "--json")
    assert listed.code == 0 and "OUTSIDE-SECRET" not in listed.out


def test_run_refuses_a_stored_plan_id_that_would_name_a_file_outside(
    run_cli: Cli, repo: Repository, session: Session, real_plan: Plan
) -> None:
    # The same, valid, plan file and hash, under an id that is a path: the run's notebook
    # would have been runs/<run>/../../../evil.ipynb, outside the repository.
    create_plan(session, dataclasses.replace(real_plan, id="../../../evil"))
    session.commit()
    refused = run_cli("run", "../../../evil", "--yes")
    assert refused.code == 2
    assert "'../../../evil': is not a plan id" in refused.err
    assert not list(repo.root.parent.rglob("evil.ipynb"))
