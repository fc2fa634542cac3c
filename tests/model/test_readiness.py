"""Judging a plan from its hashes, its verdicts and the rules."""

from __future__ import annotations

from datetime import UTC, datetime

from runbook.model.readiness import assess
from runbook.model.review import Review, Verdict
from runbook.model.review_rules import Requirement

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _review(verdict: Verdict, sha: str = "a" * 64, who: str = "bob") -> Review:
    return Review(plan_id="p", verdict=verdict, reviewer=who, plan_sha256=sha, reviewed_at=NOW)


def test_plan_without_required_review_is_ready() -> None:
    readiness = assess("a" * 64, "a" * 64, False, [])
    assert readiness.ready and readiness.status == "ready"


def test_required_review_missing() -> None:
    readiness = assess("a" * 64, "a" * 64, True, [])
    assert not readiness.ready and readiness.status == "awaiting-review"
    assert "needs an approval" in readiness.reason


def test_approval_makes_it_ready_and_a_later_rejection_vetoes_it() -> None:
    approved = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED)])
    assert approved.ready and approved.status == "approved"
    rejected = assess(
        "a" * 64,
        "a" * 64,
        True,
        [_review(Verdict.APPROVED), _review(Verdict.REJECTED, who="carol")],
    )
    assert not rejected.ready and rejected.reason.startswith("rejected by carol; ")


def test_modified_plan_voids_its_approval() -> None:
    readiness = assess("a" * 64, "b" * 64, True, [_review(Verdict.APPROVED)])
    assert not readiness.ready and readiness.status == "modified"
    assert "void" in readiness.reason


def test_approval_of_other_content_does_not_count() -> None:
    readiness = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED, sha="c" * 64)])
    assert not readiness.ready and "voided" in readiness.reason


def test_missing_file() -> None:
    assert assess("a" * 64, None, False, []).reason == "the plan file is missing"


def test_spent_and_short_of_approvals_say_so() -> None:
    spent = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED)], spent_by="r-1")
    assert spent.status == "spent" and "spent by run r-1" in spent.reason
    two = (Requirement(2, (), "review"),)
    short = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED)], requirements=two)
    assert short.status == "awaiting-review" and short.reason.endswith("it has 1")
