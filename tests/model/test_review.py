"""Verdicts: who is the same person, which verdicts stand, a plan's state."""

from __future__ import annotations

from dataclasses import dataclass

from runbook.model.review import Verdict, plan_state, same_person, standing


@dataclass(frozen=True)
class Seen:
    reviewer: str
    verdict: str


def test_same_person_ignores_case_and_spaces() -> None:
    assert same_person("Alice@Example.com ", "alice@example.com")
    assert not same_person("alice", "bob")


def test_a_withdrawal_takes_back_only_its_reviewers_verdicts() -> None:
    seen = [
        Seen("bob", Verdict.REJECTED),
        Seen("carol", Verdict.APPROVED),
        Seen("BOB", Verdict.APPROVED),
        Seen("bob", Verdict.WITHDRAWN),
    ]
    assert standing(seen) == [seen[1]]
    assert plan_state(seen[:3]) == "rejected"  # a later approval does not lift a veto
    assert plan_state(seen) == "approved"
    assert plan_state([Seen("bob", Verdict.APPROVED), Seen("bob", Verdict.WITHDRAWN)]) == "planned"
