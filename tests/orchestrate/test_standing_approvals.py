"""Standing approvals: unattended callers run a runbook that needs review, within bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import nbformat
import pytest
from sqlalchemy.orm import Session

from runbook.errors import StandingRefusedError, UsageError
from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.standing import StandingApproval, parse_bound
from runbook.orchestrate.planning import plan_readiness, plan_runbook
from runbook.orchestrate.standing_approvals import approve_standing, revoke
from tests.orchestrate.test_planning import make_runbook

HOST_AND_PORT = {"host": "web1|web2", "port": "1..9999"}


def grant(
    session: Session,
    repo: Repository,
    bounds: dict[str, str] | None = None,
    callers: tuple[str, ...] = ("workflow:nightly",),
    lifetime: timedelta = timedelta(days=30),
) -> StandingApproval:
    parsed = dict(parse_bound(f"{k}={v}") for k, v in (bounds or HOST_AND_PORT).items())
    return approve_standing(
        session, repo, "restart", reviewer="bob", callers=callers, bounds=parsed, lifetime=lifetime
    )


def plan_by(session: Session, repo: Repository, caller: str, **values: object) -> Plan:
    runbook = repo.runbooks_dir / "restart.ipynb"
    return plan_runbook(session, repo, runbook, values, planner="nightly", caller=caller)


@pytest.fixture
def critical(repo: Repository) -> Repository:
    make_runbook(repo, tags=["critical"])
    return repo


def test_a_plan_inside_the_bounds_is_approved_by_the_standing_approval(
    critical: Repository, session: Session
) -> None:
    approval = grant(session, critical)
    plan = plan_by(session, critical, "workflow:nightly", host="web2", port=80)
    assert plan.standing_approval == approval.id
    readiness = plan_readiness(session, critical, plan)
    assert readiness.ready and readiness.status == "approved"


@pytest.mark.parametrize(
    ("caller", "values", "says"),
    [
        ("workflow:nightly", {"host": "db9"}, "host = 'db9' is not one of web1, web2"),
        ("workflow:nightly", {"host": "web1", "port": 10080}, "port = 10080 is outside 1..9999"),
        ("workflow:other", {"host": "web1"}, "is not for workflow:other (workflow:nightly)"),
    ],
)
def test_outside_the_bounds_or_for_another_caller_is_refused_naming_why(
    critical: Repository, session: Session, caller: str, values: dict[str, object], says: str
) -> None:
    grant(session, critical)
    with pytest.raises(StandingRefusedError, match=says.replace("(", r"\(").replace(")", r"\)")):
        plan_by(session, critical, caller, **values)


def test_without_any_standing_approval_an_unattended_caller_is_refused(
    critical: Repository, session: Session
) -> None:
    with pytest.raises(StandingRefusedError, match="no standing approval of this runbook"):
        plan_by(session, critical, "workflow:nightly", host="web1")


def test_a_changed_runbook_is_refused(critical: Repository, session: Session) -> None:
    grant(session, critical)
    path = critical.runbooks_dir / "restart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[-1].source = "print('restart harder', host)"
    nbformat.write(notebook, path)
    with pytest.raises(StandingRefusedError, match="changed since it was approved"):
        plan_by(session, critical, "workflow:nightly", host="web1")


def test_changed_repository_code_is_refused(critical: Repository, session: Session) -> None:
    grant(session, critical)
    (critical.root / "helper.py").write_text("X = 1\n")
    with pytest.raises(StandingRefusedError, match=r"repository code changed \(helper.py added\)"):
        plan_by(session, critical, "workflow:nightly", host="web1")


def test_a_revoked_approval_stops_its_plans_and_approves_no_more(
    critical: Repository, session: Session
) -> None:
    approval = grant(session, critical)
    plan = plan_by(session, critical, "workflow:nightly", host="web1")
    revoke(session, approval.id, by="carol")
    assert plan_readiness(session, critical, plan).reason == (
        f"its standing approval {approval.id} was revoked by carol"
    )
    with pytest.raises(StandingRefusedError, match="was revoked by carol"):
        plan_by(session, critical, "workflow:nightly", host="web1")


def test_an_expired_approval_approves_nothing(critical: Repository, session: Session) -> None:
    approval = grant(session, critical)
    later = datetime.now(UTC) + timedelta(days=31)
    runbook = critical.runbooks_dir / "restart.ipynb"
    with pytest.raises(StandingRefusedError, match=f"{approval.id} expired at"):
        plan_runbook(
            session,
            critical,
            runbook,
            {"host": "web1"},
            planner="x",
            caller="workflow:nightly",
            now=later,
        )


def test_a_runbook_that_needs_no_review_needs_no_standing_approval(
    repo: Repository, session: Session
) -> None:
    make_runbook(repo)  # untagged
    plan = plan_by(session, repo, "workflow:nightly", host="web1")
    assert plan.standing_approval is None and plan_readiness(session, repo, plan).ready


@pytest.mark.parametrize(
    ("bounds", "says"),
    [
        ({"host": "*"}, "parameter port needs a --bound"),
        ({"host": "*", "port": "*", "colour": "red"}, "--bound colour: the runbook has no such"),
    ],
)
def test_every_parameter_needs_a_bound_and_only_those(
    critical: Repository, session: Session, bounds: dict[str, str], says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        grant(session, critical, bounds)


def test_a_standing_approval_lasts_a_year_at_most(critical: Repository, session: Session) -> None:
    with pytest.raises(UsageError, match="up to 366 days"):
        grant(session, critical, lifetime=timedelta(days=400))
