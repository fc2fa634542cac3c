"""What each record's audit events must say about it: the facts :mod:`audit_records`
compares with the chain, built from the records' fields (by ``store.audit_records``) and
used to write the events in the first place (a review's payload), so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from runbook.model.audit import plan_subject, playbook_subject, run_subject, workflow_subject


class RecordKind(StrEnum):
    """The kinds of record the audit log is checked against."""

    PLAN = "plan"
    REVIEW = "review"
    RUN = "run"
    WORKFLOW_RUN = "workflow run"
    PLAYBOOK_RUN = "playbook run"
    STANDING = "standing approval"


@dataclass(frozen=True)
class RecordFacts:
    """What a record's audit event must say about it.

    ``payload`` holds the payload fields of the record's first event (its creation, or for
    a review its ``review.recorded``) that must be equal; ``at`` the event's time when it
    is the record's own; ``state`` the state its events must end in (None: not compared).
    """

    kind: RecordKind
    id: str
    subject: str
    actor: str
    payload: dict[str, Any]
    at: datetime | None = None
    state: str | None = None


def plan_facts(
    *,
    plan_id: str,
    runbook_path: str,
    sha256: str,
    parameters: dict[str, Any],
    planned_by: str,
    planned_at: datetime,
    review_required: bool,
    state: str,
    review_rules: dict[str, Any] | None = None,
    standing_approval: str | None = None,
) -> RecordFacts:
    """What the ``plan.created`` event and the reviews of a plan say (the review rules
    only for a plan that recorded them)."""
    return RecordFacts(
        kind=RecordKind.PLAN,
        id=plan_id,
        subject=plan_subject(plan_id),
        actor=planned_by,
        at=planned_at,
        payload={
            "runbook": runbook_path,
            "sha256": sha256,
            "parameters": parameters,
            "review_required": review_required,
            **({"review_rules": review_rules} if review_rules is not None else {}),
            **({"standing_approval": standing_approval} if standing_approval else {}),
        },
        state=state,
    )


def review_facts(
    *,
    review_id: int,
    plan_id: str,
    verdict: str,
    reviewer: str,
    plan_sha256: str,
    comment: str | None,
    reviewed_at: datetime,
    identity_kind: str = "claimed",
    signature: str | None = None,
    nonce: str | None = None,
    signer_key: str | None = None,
) -> RecordFacts:
    """What a review's ``review.recorded`` event says."""
    return RecordFacts(
        kind=RecordKind.REVIEW,
        id=str(review_id),
        subject=plan_subject(plan_id),
        actor=reviewer,
        at=reviewed_at,
        payload=review_event_payload(
            verdict, plan_sha256, comment, identity_kind, signature, nonce, signer_key
        ),
    )


def review_event_payload(
    verdict: str,
    plan_sha256: str,
    comment: str | None,
    identity_kind: str = "claimed",
    signature: str | None = None,
    nonce: str | None = None,
    signer_key: str | None = None,
) -> dict[str, Any]:
    """The payload of a ``review.recorded`` event; a signed review's carries its signature
    (a claimed one's keeps the shape it always had)."""
    payload: dict[str, Any] = {"verdict": verdict, "plan_sha256": plan_sha256, "comment": comment}
    if identity_kind != "claimed":
        payload |= {
            "identity_kind": identity_kind,
            "signature": signature,
            "nonce": nonce,
            "signer_key": signer_key,
        }
    return payload


def run_facts(
    *,
    run_id: str,
    plan_id: str,
    executor: str,
    mode: str,
    start_cell: int,
    resumed_from: str | None,
    state: str,
) -> RecordFacts:
    """What a run's ``run.started`` and last state event say."""
    return RecordFacts(
        kind=RecordKind.RUN,
        id=run_id,
        subject=run_subject(run_id),
        actor=executor,
        payload={
            "plan": plan_id,
            "mode": mode,
            "start_cell": start_cell,
            "resumed_from": resumed_from,
        },
        state=state,
    )


def started_run_facts(
    kind: RecordKind, *, run_id: str, started_by: str, state: str, payload: dict[str, Any]
) -> RecordFacts:
    """What a workflow or playbook run's ``*.started`` and ``*.finished`` events say."""
    return RecordFacts(
        kind=kind,
        id=run_id,
        subject=_STARTED_RUN_SUBJECTS[kind](run_id),
        actor=started_by,
        payload=payload,
        state=state,
    )


_STARTED_RUN_SUBJECTS: Final = {
    RecordKind.WORKFLOW_RUN: workflow_subject,
    RecordKind.PLAYBOOK_RUN: playbook_subject,
}
