"""A `runbook plan` killed at each step leaves nothing that the next plan or gc does not fix.

The kill is real: a `runbook plan` process whose step is replaced by ``os._exit`` dies there
as it would by kill -9, with no cleanup handler run.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.orchestrate.planning import ensure_runnable
from runbook.store.plans import list_plans
from tests.builders import write_runbook
from tests.conftest import Result

_KILLED_PLAN = """
import os, sys
import runbook.orchestrate.plan_writing as planning
def die(*args, **kwargs):
    os._exit(137)
setattr(planning, sys.argv[1], die)
from runbook.cli import main
main(["plan", "hello", "--as", "alice"])
"""


def _plan_killed_at(repo: Repository, point: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_PLAN, point],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 137, done.stderr


def _plan_files(repo: Repository) -> list[str]:
    return sorted(p.name for p in repo.plans_dir.iterdir())


def _hello(repo: Repository) -> None:
    write_runbook(repo.runbooks_dir / "hello.ipynb", [("code", "print('hi')", [])])


def test_killed_before_the_record_commits_leaves_no_plan_file_and_the_next_plan_cleans_up(
    repo: Repository, session: Session, run_cli: Callable[..., Result]
) -> None:
    _hello(repo)
    _plan_killed_at(repo, "create_plan")
    assert list_plans(session) == []
    session.rollback()  # SQLite: an open read would keep the next writer waiting
    # At most a pending file, never a plan file without its record.
    assert [name for name in _plan_files(repo) if not name.startswith(".")] == []
    (repo.plans_dir / ".hello-abcdef.ipynb.x1y2z3.tmp").write_text("half a notebo")

    planned = run_cli("plan", "hello", "--as", "alice")
    assert planned.code == 0, planned.err
    (plan,) = list_plans(session)
    assert _plan_files(repo) == [f"{plan.id}.ipynb"]


def test_killed_after_the_record_commits_the_next_gc_finishes_the_plan_file(
    repo: Repository, session: Session, run_cli: Callable[..., Result]
) -> None:
    _hello(repo)
    _plan_killed_at(repo, "publish_plan_file")
    (plan,) = list_plans(session)
    assert _plan_files(repo) == [f".{plan.id}.ipynb.pending"]
    session.rollback()  # SQLite: an open read would keep the next writer waiting

    cleaned = run_cli("gc", "--dry-run")
    assert f"would clean runs/plans/.{plan.id}.ipynb.pending" in cleaned.out
    assert run_cli("gc").code == 0
    assert _plan_files(repo) == [f"{plan.id}.ipynb"]
    assert ensure_runnable(session, repo, plan.id).id == plan.id  # intact: its own content


def test_gc_removes_leftovers_of_a_plan_that_never_committed(
    repo: Repository, run_cli: Callable[..., Result]
) -> None:
    _hello(repo)
    _plan_killed_at(repo, "create_plan")
    (repo.plans_dir / ".old.ipynb.abc.tmp").write_text("{")
    (repo.plans_dir / "kept-by-hand.ipynb").write_text("{}")  # not ours to judge: kept
    done = run_cli("gc", "--json")
    assert done.code == 0, done.err
    assert _plan_files(repo) == ["kept-by-hand.ipynb"]
