"""What a change board reads in a run's report besides the notebook: the plan, its reviews,
the approval used, and every decision taken at a gate while the run ran.

Orchestrate gathers it from the store (the engine may not read the store) and hands it to the
report as these plain values; the report worker, a separate process, receives them as JSON
(:func:`record_to_json`, :func:`record_from_json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from runbook.model.review import IdentityKind, Verdict
from runbook.model.run import Decision


class SignatureStatus(StrEnum):
    """A review's signature as checked when the report was written."""

    #: No signature: the identity is only claimed (``--as``, ``RUNBOOK_USER``…).
    UNSIGNED = "unsigned"
    #: It verifies against ``allowed_signers`` as the file is now.
    VALID = "valid"
    #: It does not (edited, its key removed from ``allowed_signers``, or the file is gone).
    INVALID = "INVALID"


@dataclass(frozen=True)
class ReviewLine:
    """One recorded verdict on the plan, as the report shows it."""

    reviewer: str
    verdict: Verdict
    reviewed_at: datetime
    comment: str | None
    identity_kind: IdentityKind
    signature: SignatureStatus
    #: The fingerprint of the key that signed, for a signed review.
    signer_key: str | None = None


@dataclass(frozen=True)
class GateDecision:
    """A decision taken at a cell of the run: who, what, when, and in which situation.

    ``after`` says what the decision answered: ``None`` for a gate before the cell ran
    (``confirm``, ``manual``), ``"interrupted"`` for the choice offered after Ctrl-C,
    ``"failed"`` for the one after a failure.
    """

    cell_index: int
    decision: Decision
    decided_by: str
    at: datetime
    after: str | None = None


@dataclass(frozen=True)
class ReportRecord:
    """The plan and approval behind a run, and its gate decisions (oldest first).

    ``parameters`` are the plan's: secret parameters hold their reference, never a value.
    ``standing_approval`` is the id of the standing approval that approved the plan (made by
    an unattended caller), ``None`` (shown as "none") when people reviewed it or none was
    needed.
    """

    plan_id: str
    runbook: str
    title: str
    planned_by: str
    planned_at: datetime
    plan_sha256: str
    parameters: dict[str, Any]
    review_required: bool
    reviews: tuple[ReviewLine, ...] = ()
    decisions: tuple[GateDecision, ...] = ()
    standing_approval: str | None = None


def record_to_json(record: ReportRecord) -> dict[str, Any]:
    """A record as plain JSON (to hand it to the report worker)."""
    return {
        "plan_id": record.plan_id,
        "runbook": record.runbook,
        "title": record.title,
        "planned_by": record.planned_by,
        "planned_at": record.planned_at.isoformat(),
        "plan_sha256": record.plan_sha256,
        "parameters": record.parameters,
        "review_required": record.review_required,
        "reviews": [
            {
                "reviewer": r.reviewer,
                "verdict": r.verdict.value,
                "reviewed_at": r.reviewed_at.isoformat(),
                "comment": r.comment,
                "identity_kind": r.identity_kind.value,
                "signature": r.signature.value,
                "signer_key": r.signer_key,
            }
            for r in record.reviews
        ],
        "decisions": [
            {
                "cell_index": d.cell_index,
                "decision": d.decision.value,
                "decided_by": d.decided_by,
                "at": d.at.isoformat(),
                "after": d.after,
            }
            for d in record.decisions
        ],
        "standing_approval": record.standing_approval,
    }


def record_from_json(data: dict[str, Any]) -> ReportRecord:
    """The record :func:`record_to_json` wrote."""
    return ReportRecord(
        plan_id=str(data["plan_id"]),
        runbook=str(data["runbook"]),
        title=str(data["title"]),
        planned_by=str(data["planned_by"]),
        planned_at=datetime.fromisoformat(str(data["planned_at"])),
        plan_sha256=str(data["plan_sha256"]),
        parameters=dict(data["parameters"]),
        review_required=bool(data["review_required"]),
        reviews=tuple(
            ReviewLine(
                reviewer=str(r["reviewer"]),
                verdict=Verdict(r["verdict"]),
                reviewed_at=datetime.fromisoformat(str(r["reviewed_at"])),
                comment=r["comment"],
                identity_kind=IdentityKind(r["identity_kind"]),
                signature=SignatureStatus(r["signature"]),
                signer_key=r["signer_key"],
            )
            for r in data["reviews"]
        ),
        decisions=tuple(
            GateDecision(
                cell_index=int(d["cell_index"]),
                decision=Decision(d["decision"]),
                decided_by=str(d["decided_by"]),
                at=datetime.fromisoformat(str(d["at"])),
                after=d["after"],
            )
            for d in data["decisions"]
        ),
        standing_approval=data.get("standing_approval"),
    )
