"""A review: a second person's verdict on a plan, bound to the plan's hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from runbook.model.identity import same_identity


class Verdict(StrEnum):
    """What a reviewer decided."""

    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Review:
    """One verdict on one plan. ``plan_sha256`` is the plan content the reviewer saw."""

    plan_id: str
    verdict: Verdict
    reviewer: str
    plan_sha256: str
    reviewed_at: datetime
    comment: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Readiness:
    """Whether a plan may run now, and if not, why.

    ``approval`` is the latest approval bound to the plan's current content; an approval of
    different content (the plan was changed after review) never counts. ``code_changes``
    names the repository modules the plan can import that changed since planning (which
    void any review just as a change to the plan file does).
    """

    intact: bool
    review_required: bool
    approval: Review | None
    rejection: Review | None
    reason: str
    code_changes: tuple[str, ...] = ()
    unreadable: bool = False

    @property
    def ready(self) -> bool:
        """True when the plan is intact and its review policy is met."""
        return not self.reason

    @property
    def status(self) -> str:
        """One word for listings: unreadable, modified, rejected, approved, ready or
        awaiting-review."""
        if self.unreadable:
            return "unreadable"
        if not self.intact or self.code_changes:
            return "modified"
        if self.rejection is not None:
            return "rejected"
        if self.approval is not None:
            return "approved"
        return "awaiting-review" if self.review_required else "ready"


def assess(
    plan_sha256: str,
    actual_sha256: str | None,
    review_required: bool,
    reviews: list[Review],
    code_changes: Sequence[str] = (),
    *,
    unreadable: str | None = None,
) -> Readiness:
    """Judge a plan from its recorded hash, the hash of its file now, and its reviews.

    ``actual_sha256`` is None when the file cannot be read (``unreadable`` says why). Only
    the latest verdict on the current content counts, so a rejection can be answered by a
    later approval and vice versa.
    """
    intact = actual_sha256 == plan_sha256
    current = [r for r in reviews if r.plan_sha256 == plan_sha256]
    latest = current[-1] if current else None
    approval = latest if latest and latest.verdict is Verdict.APPROVED else None
    rejection = latest if latest and latest.verdict is Verdict.REJECTED else None
    if not intact:
        if actual_sha256 is None:
            reason = (
                f"the plan file cannot be read: {unreadable}"
                if unreadable
                else ("the plan file is missing")
            )
        else:
            reason = "the plan was modified after planning; any review of it is void"
    elif code_changes:
        reason = (
            "repository code it can import changed since planning "
            f"({', '.join(code_changes[:5])}); any review of it is void"
        )
    elif rejection is not None:
        reason = f"rejected by {rejection.reviewer}"
    elif review_required and approval is None:
        voided = [r for r in reviews if r.plan_sha256 != plan_sha256]
        reason = (
            "its approval was voided by a change to the plan"
            if voided
            else "it needs an approval from a second person (`runbook review PLAN --approve`)"
        )
    else:
        reason = ""
    return Readiness(
        intact=intact,
        review_required=review_required,
        approval=approval,
        rejection=rejection,
        reason=reason,
        code_changes=tuple(code_changes),
        unreadable=actual_sha256 is None,
    )


def same_person(a: str, b: str) -> bool:
    """Whether two recorded identities name the same person.

    Compared by :func:`runbook.model.identity.identity_key`: case, invisible characters,
    compatibility forms and lookalike letters do not make a second person.
    """
    return same_identity(a, b)
