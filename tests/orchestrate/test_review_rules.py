"""Review rules a team states: approvals, reviewers, groups, tags; vetoes; spent approvals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from runbook.errors import NothingToWithdrawError, ReviewRequiredError
from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.model.run import Run, RunMode, RunState
from runbook.orchestrate.planning import ensure_runnable, plan_readiness, plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.store.plans import get_plan
from runbook.store.runs import create_run, finish_run
from tests.orchestrate.test_planning import make_runbook
from tests.orchestrate.test_signed_reviews import configure

DBA = """require = "tagged"
tags = ["critical"]
approvals = 1

[review.groups]
dba = ["carol", "dave"]

[review.tag.critical]
approvals = 2
reviewers = ["@dba"]
"""


def plan_in(repo: Repository, session: Session, tags: list[str] | None = None) -> Plan:
    runbook = make_runbook(repo, tags=tags)
    return plan_runbook(session, repo, runbook, {"host": "db1"}, planner="alice")


def verdict(session: Session, repo: Repository, plan: Plan, who: str, what: Verdict) -> None:
    review_plan(session, repo, plan.id, what, reviewer=who)


def reason(session: Session, repo: Repository, plan: Plan) -> str:
    return plan_readiness(session, repo, get_plan(session, plan.id)).reason


def test_two_approvals_from_two_people(repo: Repository, session: Session) -> None:
    repo = configure(repo.root, 'require = "all"\napprovals = 2')
    plan = plan_in(repo, session)
    verdict(session, repo, plan, "bob", Verdict.APPROVED)
    verdict(session, repo, plan, " BOB", Verdict.APPROVED)  # the same person, counted once
    assert reason(session, repo, plan) == "it needs 2 approvals (review); it has 1"
    verdict(session, repo, plan, "carol", Verdict.APPROVED)
    assert ensure_runnable(session, repo, plan.id).id == plan.id
    assert get_plan(session, plan.id).state == "approved"


def test_a_rejection_is_a_veto_until_its_reviewer_withdraws_it(
    repo: Repository, session: Session
) -> None:
    repo = configure(repo.root, 'require = "all"')
    plan = plan_in(repo, session)
    verdict(session, repo, plan, "bob", Verdict.REJECTED)
    for later in ("carol", "dave", "bob"):  # not even bob's own approval lifts it
        verdict(session, repo, plan, later, Verdict.APPROVED)
    assert reason(session, repo, plan).startswith("rejected by bob; a rejection stands")
    assert get_plan(session, plan.id).state == "rejected"
    with pytest.raises(ReviewRequiredError, match="rejected by bob"):
        ensure_runnable(session, repo, plan.id)
    with pytest.raises(NothingToWithdrawError, match="erin has no standing verdict"):
        verdict(session, repo, plan, "erin", Verdict.WITHDRAWN)
    verdict(session, repo, plan, "bob", Verdict.WITHDRAWN)  # takes back bob's verdicts
    assert reason(session, repo, plan) == ""
    assert get_plan(session, plan.id).state == "approved"


def test_a_tag_needs_two_approvals_from_its_group(repo: Repository, session: Session) -> None:
    repo = configure(repo.root, DBA)
    plain, critical = plan_in(repo, session), plan_in(repo, session, tags=["critical"])
    assert plan_readiness(session, repo, plain).ready  # untagged: no review needed
    verdict(session, repo, critical, "bob", Verdict.APPROVED)  # not a dba: does not count
    verdict(session, repo, critical, "carol", Verdict.APPROVED)
    assert reason(session, repo, critical) == (
        "it needs 2 approvals from carol, dave (review.tag.critical); it has 1"
    )
    verdict(session, repo, critical, "dave", Verdict.APPROVED)
    assert plan_readiness(session, repo, critical).ready


def test_relaxing_the_rules_after_planning_frees_nothing(
    repo: Repository, session: Session
) -> None:
    strict = configure(repo.root, 'require = "all"\napprovals = 2')
    plan = plan_in(strict, session)
    relaxed = configure(repo.root, 'require = "none"')
    verdict(session, relaxed, plan, "bob", Verdict.APPROVED)
    assert reason(session, relaxed, plan) == "it needs 2 approvals (review); it has 1"


def test_tightening_the_rules_after_planning_applies_at_run_time(
    repo: Repository, session: Session
) -> None:
    lax = configure(repo.root, 'require = "none"')
    plan = plan_in(lax, session)
    assert plan_readiness(session, lax, plan).ready
    strict = configure(repo.root, 'require = "all"\napprovals = 2')
    verdict(session, strict, plan, "bob", Verdict.APPROVED)
    assert reason(session, strict, plan) == "it needs 2 approvals (review); it has 1"


def _run(session: Session, plan: Plan, run_id: str, state: RunState, mode: RunMode) -> None:
    now = datetime.now(UTC)
    create_run(
        session,
        Run(
            id=run_id,
            plan_id=plan.id,
            executor="bob",
            mode=mode,
            state=RunState.RUNNING,
            started_at=now,
            notebook_path=f"runs/{run_id}/{plan.id}.ipynb",
            lease_owner="test:1",
            heartbeat_at=now,
        ),
    )
    finish_run(session, run_id, 1, state, now=now)
    session.commit()


def test_an_approval_is_spent_by_a_run_that_succeeds(repo: Repository, session: Session) -> None:
    repo = configure(repo.root, 'require = "all"')
    plan = plan_in(repo, session)
    verdict(session, repo, plan, "bob", Verdict.APPROVED)
    _run(session, plan, "r-failed", RunState.FAILED, RunMode.AUTOMATIC)
    _run(session, plan, "r-dry", RunState.SUCCEEDED, RunMode.DRY_RUN)
    assert plan_readiness(session, repo, plan).ready  # may be run again
    _run(session, plan, "r-done", RunState.SUCCEEDED, RunMode.AUTOMATIC)
    readiness = plan_readiness(session, repo, plan)
    assert readiness.status == "spent"
    assert readiness.reason == (
        "its approval was spent by run r-done, which succeeded; plan the runbook again"
    )
