"""`check` has teeth: a runbook with check errors is planned only when forced, and then the
forced errors are in the hashed plan, in its audit event, and the plan needs a review."""

from __future__ import annotations

import json
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy.orm import Session

from runbook.errors import CheckFailedError, ReviewRequiredError
from runbook.model.audit import EventKind
from runbook.model.forcing import plan_forced
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.model.standing import parse_bound
from runbook.orchestrate.planning import ensure_runnable, plan_readiness, plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.orchestrate.standing_approvals import approve_standing
from runbook.store.audit import list_events
from runbook.store.plans import list_plans
from tests.builders import write_runbook
from tests.orchestrate.test_planning import make_runbook


def _unsafe(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "wipe.ipynb",
        [
            ("code", "print('check')", ["precheck"]),
            ("code", "import shutil\nshutil.rmtree('/srv/data')", []),
            ("code", "print('done')", ["verify"]),
        ],
    )


def test_a_runbook_with_check_errors_is_refused_and_nothing_is_recorded(
    repo: Repository, session: Session
) -> None:
    _unsafe(repo)
    with pytest.raises(CheckFailedError) as refused:
        plan_runbook(session, repo, repo.runbooks_dir / "wipe.ipynb", {}, planner="alice")
    error = refused.value
    assert (error.runbook, error.where, error.code) == (
        "runbooks/wipe.ipynb",
        "cell 1",
        "call-without-confirm",
    )
    assert "--force" in str(error) and "shutil.rmtree()" in str(error)
    assert list_plans(session) == []
    assert not list(repo.plans_dir.glob("*.ipynb"))


def test_a_forced_plan_records_the_errors_in_its_hashed_content_and_needs_review(
    repo: Repository, session: Session
) -> None:
    assert not repo.config.review.requires_review(())  # the default: no review asked
    _unsafe(repo)
    plan = plan_runbook(
        session, repo, repo.runbooks_dir / "wipe.ipynb", {}, planner="alice", force=True
    )
    forced = plan_forced(plan)
    assert [(f["code"], f["cell"]) for f in forced] == [("call-without-confirm", 1)]
    written = json.loads((repo.root / plan.notebook_path).read_text())
    assert written["metadata"]["runbook"]["plan"]["forced"] == forced
    assert plan.review_required
    event = next(e for e in list_events(session) if e.kind == EventKind.PLAN_CREATED)
    assert event.payload["forced"] == forced and event.payload["review_required"] is True
    with pytest.raises(ReviewRequiredError):
        ensure_runnable(session, repo, plan.id)
    review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob")
    assert ensure_runnable(session, repo, plan.id).id == plan.id


def test_a_clean_runbook_records_nothing_forced(repo: Repository, session: Session) -> None:
    write_runbook(repo.runbooks_dir / "ok.ipynb", [("code", "print('hi')", [])])
    plan = plan_runbook(
        session, repo, repo.runbooks_dir / "ok.ipynb", {}, planner="alice", force=True
    )
    assert plan_forced(plan) == [] and not plan.review_required
    assert "forced" not in json.loads(plan.content)["metadata"]["runbook"]["plan"]


def test_a_forced_plan_is_never_approved_by_a_standing_approval(
    repo: Repository, session: Session
) -> None:
    path = make_runbook(repo, tags=["critical"])
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import os\nos.system('reboot')"))
    nbformat.write(notebook, path)
    bounds = dict(parse_bound(b) for b in ("host=web1|web2", "port=1..9999"))
    approve_standing(
        session,
        repo,
        "restart",
        reviewer="bob",
        callers=("workflow:nightly",),
        bounds=bounds,
        lifetime=timedelta(days=1),
    )
    values = {"host": "web1", "port": 80}
    with pytest.raises(CheckFailedError):  # unattended callers are refused, as people are
        plan_runbook(session, repo, path, values, planner="nightly", caller="workflow:nightly")
    plan = plan_runbook(
        session, repo, path, values, planner="nightly", caller="workflow:nightly", force=True
    )
    assert plan.standing_approval is None and plan.review_required
    assert not plan_readiness(session, repo, plan).ready
