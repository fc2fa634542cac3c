"""What orchestrate gathers for a run's report: the plan, each review with its signature
checked again now (real ed25519 keys), and every gate decision read from the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from runbook.model.audit import EventKind, run_subject
from runbook.model.plan import Plan
from runbook.model.report_record import GateDecision, SignatureStatus
from runbook.model.repository import Repository
from runbook.model.review import IdentityKind, Verdict
from runbook.model.run import Decision, Run, RunMode, RunState
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.report_records import gate_decisions, report_record
from runbook.orchestrate.reviewing import review_plan
from runbook.store.audit import append_event, list_events
from tests.orchestrate.test_planning import make_runbook
from tests.orchestrate.test_signed_reviews import (  # noqa: F401 (fixtures)
    Keys,
    approve,
    configure,
    keys,
    plan,
    signed_repo,
)
from tests.orchestrate.test_standing_approvals import grant, plan_by

RUN_ID = "20261203-100000-cafe"


def a_run(plan_id: str) -> Run:
    now = datetime.now(UTC)
    return Run(
        id=RUN_ID,
        plan_id=plan_id,
        executor="dave",
        mode=RunMode.INTERACTIVE,
        state=RunState.SUCCEEDED,
        started_at=now,
        notebook_path=f"runs/{RUN_ID}/x.ipynb",
        lease_owner="h:1",
    )


def test_signed_reviews_are_checked_again_when_the_report_is_written(
    signed_repo: Repository,  # noqa: F811
    session: Session,
    keys: Keys,  # noqa: F811
    plan: Plan,  # noqa: F811
) -> None:
    approve(session, signed_repo, plan, keys["bob"])
    approve(session, signed_repo, plan, keys["carol"])
    # carol's key is removed from allowed_signers: her approval no longer verifies.
    allowed = signed_repo.root / "allowed_signers"
    allowed.write_text(
        "".join(line for line in allowed.read_text().splitlines(True) if "carol" not in line)
    )
    record = report_record(session, signed_repo, a_run(plan.id))
    assert record is not None
    assert (record.plan_id, record.planned_by, record.plan_sha256) == (
        plan.id,
        "alice@example.org",
        plan.sha256,
    )
    assert record.parameters == plan.parameters and record.standing_approval is None
    seen = [(r.reviewer, r.identity_kind, r.signature) for r in record.reviews]
    assert seen == [
        ("bob@example.org", IdentityKind.SSH_KEY, SignatureStatus.VALID),
        ("carol@example.org", IdentityKind.SSH_KEY, SignatureStatus.INVALID),
    ]
    assert all((r.signer_key or "").startswith("SHA256:") for r in record.reviews)


def test_claimed_reviews_are_unsigned_and_an_unknown_plan_has_no_record(
    repo: Repository, session: Session, tmp_path: Path
) -> None:
    claimed = configure(repo.root, 'require = "all"')
    made = plan_runbook(session, claimed, make_runbook(claimed), {"host": "db1"}, planner="a")
    review_plan(session, claimed, made.id, Verdict.REJECTED, reviewer="bob", comment="<b>no</b>")
    record = report_record(session, claimed, a_run(made.id))
    assert record is not None
    review = record.reviews[0]
    assert (review.reviewer, review.verdict, review.comment) == (
        "bob",
        Verdict.REJECTED,
        "<b>no</b>",
    )
    assert (review.identity_kind, review.signature) == (
        IdentityKind.CLAIMED,
        SignatureStatus.UNSIGNED,
    )
    assert report_record(session, claimed, a_run("no-such-plan")) is None


def test_gate_decisions_say_what_each_answered(repo: Repository, session: Session) -> None:
    subject = run_subject(RUN_ID)
    # The order the engine writes them in: a confirm gate, then the cell; a cell interrupted,
    # then the choice after Ctrl-C; a failure, a retry, a second failure, a rollback.
    for kind, actor, payload in (
        (EventKind.CELL_DECIDED, "dave", {"cell": 1, "decision": "yes"}),
        (EventKind.CELL_FINISHED, "dave", {"cell": 1, "status": "interrupted"}),
        (EventKind.CELL_DECIDED, "dave", {"cell": 1, "decision": "skip"}),
        (EventKind.CELL_FINISHED, "dave", {"cell": 2, "status": "failed"}),
        (EventKind.CELL_DECIDED, "dave", {"cell": 2, "decision": "retry"}),
        (EventKind.CELL_FINISHED, "dave", {"cell": 2, "status": "failed"}),
        (EventKind.CELL_DECIDED, "erin", {"cell": 2, "decision": "rollback"}),
        (EventKind.CELL_FINISHED, "dave", {"cell": 5, "status": "succeeded"}),
        (EventKind.CELL_DECIDED, "x", {"cell": 9, "decision": "no-such-decision"}),
    ):
        append_event(session, kind=kind, actor=actor, subject=subject, payload=payload)
    append_event(
        session,
        kind=EventKind.CELL_DECIDED,
        actor="zed",
        subject=run_subject("20261203-100000-0ther"),
        payload={"cell": 1, "decision": "abort"},
    )
    decisions = gate_decisions(list_events(session, subject=subject))
    assert [(d.cell_index, d.decision, d.decided_by, d.after) for d in decisions] == [
        (1, Decision.YES, "dave", None),
        (1, Decision.SKIP, "dave", "interrupted"),
        (2, Decision.RETRY, "dave", "failed"),
        (2, Decision.ROLLBACK, "erin", "failed"),
    ]
    assert all(isinstance(d, GateDecision) and d.at.tzinfo is not None for d in decisions)


def test_a_plan_made_under_a_standing_approval_names_it(repo: Repository, session: Session) -> None:
    make_runbook(repo, tags=["critical"])
    approval = grant(session, repo)
    made = plan_by(session, repo, "workflow:nightly", host="web2", port=80)
    record = report_record(session, repo, a_run(made.id))
    assert record is not None and record.standing_approval == approval.id
    assert record.reviews == ()
