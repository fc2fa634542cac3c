"""Whether a plan may run now: its content, its code, its reviews and the review rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runbook.model.review import Review, Verdict, standing
from runbook.model.review_rules import Requirement, unmet

#: The rule before ``[review]`` could say more: one approval, from anyone but the planner.
ONE_APPROVAL = (Requirement(1),)


@dataclass(frozen=True)
class Readiness:
    """Whether a plan may run now, and if not, why.

    ``approval`` is the latest standing approval of the plan's current content, when the
    approvals meet the rules; an approval of different content (the plan was changed after
    review) never counts. ``code_changes`` names the repository modules the plan can import
    that changed since planning (which void any review just as a change to the plan file
    does). ``spent_by`` is the run that succeeded under the plan's approval.
    """

    intact: bool
    review_required: bool
    approval: Review | None
    rejection: Review | None
    reason: str
    code_changes: tuple[str, ...] = ()
    unreadable: bool = False
    spent_by: str | None = None

    @property
    def ready(self) -> bool:
        """True when the plan is intact and its review policy is met."""
        return not self.reason

    @property
    def status(self) -> str:
        """One word for listings: unreadable, modified, rejected, spent, approved, ready or
        awaiting-review."""
        if self.unreadable:
            return "unreadable"
        if not self.intact or self.code_changes:
            return "modified"
        if self.rejection is not None:
            return "rejected"
        if self.spent_by is not None:
            return "spent"
        if self.approval is not None or (self.review_required and self.ready):
            return "approved"  # by people, or by a standing approval
        return "awaiting-review" if self.review_required else "ready"


def assess(
    plan_sha256: str,
    actual_sha256: str | None,
    review_required: bool,
    reviews: list[Review],
    code_changes: Sequence[str] = (),
    *,
    unreadable: str | None = None,
    unsigned: int = 0,
    requirements: Sequence[Requirement] = ONE_APPROVAL,
    spent_by: str | None = None,
    lapsed: str | None = None,
) -> Readiness:
    """Judge a plan from its recorded hash, the hash of its file now, and its reviews.

    ``actual_sha256`` is None when the file cannot be read (``unreadable`` says why). Of the
    verdicts on the current content, a rejection vetoes until its reviewer withdraws it; the
    standing approvals must meet every one of ``requirements`` when review is required.
    ``unsigned`` approvals were left out of ``reviews`` for want of a valid signature (where
    reviews must be signed), and ``spent_by`` names a run that already succeeded under the
    approval: the reason says so, as it does ``lapsed``, why the standing approval of an
    unattended caller's plan no longer approves it.
    """
    intact = actual_sha256 == plan_sha256
    current = standing([r for r in reviews if r.plan_sha256 == plan_sha256])
    approvals = [r for r in current if r.verdict is Verdict.APPROVED]
    rejection = next((r for r in current if r.verdict is Verdict.REJECTED), None)
    short = unmet(requirements, [a.reviewer for a in approvals]) if review_required else []
    reason = _reason(
        intact, actual_sha256, unreadable, code_changes, rejection, review_required, spent_by
    )
    if not reason and short:
        reason = lapsed or _short_reason(short, approvals, reviews, plan_sha256, unsigned)
    return Readiness(
        intact=intact,
        review_required=review_required,
        approval=approvals[-1] if approvals and not short else None,
        rejection=rejection,
        reason=reason,
        code_changes=tuple(code_changes),
        unreadable=actual_sha256 is None,
        spent_by=spent_by if review_required else None,
    )


def _reason(
    intact: bool,
    actual_sha256: str | None,
    unreadable: str | None,
    code_changes: Sequence[str],
    rejection: Review | None,
    review_required: bool,
    spent_by: str | None,
) -> str:
    if not intact:
        if actual_sha256 is None:
            return (
                f"the plan file cannot be read: {unreadable}"
                if unreadable
                else ("the plan file is missing")
            )
        return "the plan was modified after planning; any review of it is void"
    if code_changes:
        return (
            "repository code it can import changed since planning "
            f"({', '.join(code_changes[:5])}); any review of it is void"
        )
    if rejection is not None:
        return (
            f"rejected by {rejection.reviewer}; a rejection stands until its reviewer "
            "withdraws it (`runbook review PLAN --withdraw`) or the runbook is planned again"
        )
    if review_required and spent_by is not None:
        return f"its approval was spent by run {spent_by}, which succeeded; plan the runbook again"
    return ""


def _short_reason(
    short: list[tuple[Requirement, int]],
    approvals: list[Review],
    reviews: list[Review],
    plan_sha256: str,
    unsigned: int,
) -> str:
    if unsigned:
        return (
            f"{unsigned} approval(s) carry no valid signature by a key in allowed_signers "
            "(review.signed); it needs a signed approval"
        )
    if not approvals and any(r.plan_sha256 != plan_sha256 for r in reviews):
        return "its approval was voided by a change to the plan"
    requirement, counted = short[0]
    if tuple(r for r, _ in short) == ONE_APPROVAL and not approvals:
        return "it needs an approval from a second person (`runbook review PLAN --approve`)"
    return f"it needs {requirement.describe()}; it has {counted}"
