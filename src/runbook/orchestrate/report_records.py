"""Gathering what a run's report shows beyond the notebook: the plan and its reviews (each
signature checked again, now), and every decision taken at a gate, read from the audit log.

The engine renders; it may not read the store. So this module reads the store and hands the
engine a :class:`runbook.model.report_record.ReportRecord` of plain values.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from runbook.errors import RunbookError, UnknownPlanError
from runbook.model.audit import AuditEvent, EventKind, run_subject
from runbook.model.report_record import GateDecision, ReportRecord, ReviewLine, SignatureStatus
from runbook.model.repository import Repository
from runbook.model.review import Review
from runbook.model.run import CellStatus, Decision, Run
from runbook.orchestrate.review_trust import signature_holds
from runbook.store.audit import list_events
from runbook.store.plans import get_plan
from runbook.store.reviews import list_reviews

#: What a decision answered, by the status of its cell's latest attempt before it.
_AFTER: dict[str, str] = {
    CellStatus.INTERRUPTED.value: "interrupted",
    CellStatus.FAILED.value: "failed",
}


def report_record(session: Session, repository: Repository, run: Run) -> ReportRecord | None:
    """The plan, reviews and gate decisions of ``run``; None when its plan is not recorded."""
    try:
        plan = get_plan(session, run.plan_id)
    except UnknownPlanError:
        return None
    reviews = tuple(_review_line(repository, r) for r in list_reviews(session, plan.id))
    return ReportRecord(
        plan_id=plan.id,
        runbook=plan.runbook_path,
        title=plan.title,
        planned_by=plan.planned_by,
        planned_at=plan.planned_at,
        plan_sha256=plan.sha256,
        parameters=dict(plan.parameters),
        review_required=plan.review_required,
        reviews=reviews,
        decisions=gate_decisions(list_events(session, subject=run_subject(run.id))),
        standing_approval=plan.standing_approval,
    )


def _review_line(repository: Repository, review: Review) -> ReviewLine:
    if review.signature is None:
        status = SignatureStatus.UNSIGNED
    else:
        # Checked now, against allowed_signers as it is: a key removed since, or a signature
        # or nonce edited in the store, shows as INVALID, as `verify` and `run` treat it.
        try:
            holds = signature_holds(repository, review)
        except RunbookError:  # ssh-keygen missing or failing: not shown to verify
            holds = False
        status = SignatureStatus.VALID if holds else SignatureStatus.INVALID
    return ReviewLine(
        reviewer=review.reviewer,
        verdict=review.verdict,
        reviewed_at=review.reviewed_at,
        comment=review.comment,
        identity_kind=review.identity_kind,
        signature=status,
        signer_key=review.signer_key,
    )


def gate_decisions(events: list[AuditEvent]) -> tuple[GateDecision, ...]:
    """Every ``cell.decided`` event of a run's audit ``events`` (id order), each with what it
    answered: a decision after its cell's attempt was interrupted (Ctrl-C) or failed is the
    recovery choice; one with no such attempt before it was taken at the gate.

    The cell events of the store keep only a cell's gate decision; the audit log keeps them
    all, in order, so the order of events (never their timestamps) tells which is which.
    """
    last_status: dict[int, str] = {}
    decisions: list[GateDecision] = []
    for event in events:
        cell = event.payload.get("cell")
        if not isinstance(cell, int):
            continue
        if event.kind == EventKind.CELL_FINISHED:
            last_status[cell] = str(event.payload.get("status"))
        elif event.kind == EventKind.CELL_DECIDED:
            try:
                decision = Decision(str(event.payload.get("decision")))
            except ValueError:
                continue  # not a decision this version knows: `audit verify` reports it
            decisions.append(
                GateDecision(
                    cell_index=cell,
                    decision=decision,
                    decided_by=event.actor,
                    at=event.at,
                    after=_AFTER.get(last_status.get(cell, "")),
                )
            )
    return tuple(decisions)
