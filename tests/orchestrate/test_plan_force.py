"""`check` has teeth: a runbook with check errors is planned only when forced, and then the
forced errors are in the hashed plan, in its audit event, and the plan needs a review."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from runbook.errors import CheckFailedError, ReviewRequiredError
from runbook.model.audit import EventKind
from runbook.model.forcing import plan_forced
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.orchestrate.planning import ensure_runnable, plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.store.audit import list_events
from runbook.store.plans import list_plans
from tests.builders import write_runbook


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
