from __future__ import annotations

from datetime import UTC, datetime

from runbook.model.review import Review, Verdict, assess, same_person

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


def test_approval_makes_it_ready_and_a_later_rejection_wins() -> None:
    approved = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED)])
    assert approved.ready and approved.status == "approved"
    rejected = assess(
        "a" * 64,
        "a" * 64,
        True,
        [_review(Verdict.APPROVED), _review(Verdict.REJECTED, who="carol")],
    )
    assert not rejected.ready and rejected.reason == "rejected by carol"


def test_modified_plan_voids_its_approval() -> None:
    readiness = assess("a" * 64, "b" * 64, True, [_review(Verdict.APPROVED)])
    assert not readiness.ready and readiness.status == "modified"
    assert "void" in readiness.reason


def test_approval_of_other_content_does_not_count() -> None:
    readiness = assess("a" * 64, "a" * 64, True, [_review(Verdict.APPROVED, sha="c" * 64)])
    assert not readiness.ready and "voided" in readiness.reason


def test_missing_file() -> None:
    assert assess("a" * 64, None, False, []).reason == "the plan file is missing"


def test_same_person_ignores_case_and_spaces() -> None:
    assert same_person("Alice@Example.com ", "alice@example.com")
    assert not same_person("alice", "bob")
