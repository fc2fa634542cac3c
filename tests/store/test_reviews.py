"""Review record functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from runbook.errors import UnknownPlanError
from runbook.model.plan import Plan
from runbook.model.review import Review, Verdict
from runbook.store.db import session_scope
from runbook.store.plans import create_plan
from runbook.store.reviews import add_review, list_reviews
from runbook.store.tables import PlanRow, ReviewRow

MakePlan = Callable[..., Plan]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _review(plan_id: str = "p-1", **changes: Any) -> Review:
    review = Review(
        plan_id=plan_id,
        verdict=Verdict.APPROVED,
        reviewer="bob",
        plan_sha256="a" * 64,
        reviewed_at=T0,
        comment="looks right",
    )
    return dataclasses.replace(review, **changes)


def test_round_trip(engine: Engine, make_plan: MakePlan) -> None:
    tokyo = timezone(timedelta(hours=9))
    with session_scope(engine) as session:
        create_plan(session, make_plan("p-1"))
        added = add_review(
            session,
            _review(reviewed_at=datetime(2025, 3, 2, 9, 30, 0, 500, tzinfo=tokyo), comment="ok ✓"),
        )
        no_comment = add_review(session, _review(verdict=Verdict.REJECTED, comment=None))
    assert added.id is not None
    assert no_comment.id is not None
    assert no_comment.id > added.id
    with session_scope(engine) as session:
        loaded = list_reviews(session, "p-1")
    assert loaded == [no_comment, added]  # T0 is before 2025-03-02 00:30 UTC
    assert loaded[1].reviewed_at == datetime(2025, 3, 2, 0, 30, 0, 500, tzinfo=UTC)
    assert loaded[1].reviewed_at.tzinfo is UTC
    assert loaded[1].verdict is Verdict.APPROVED
    assert loaded[0].verdict is Verdict.REJECTED
    assert loaded[0].comment is None


def test_oldest_first_ties_broken_by_id(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("p-1"))
    create_plan(session, make_plan("p-2"))
    late = add_review(session, _review(reviewed_at=T0 + timedelta(hours=1), reviewer="late"))
    first_tie = add_review(session, _review(reviewer="tie-1"))
    second_tie = add_review(session, _review(reviewer="tie-2"))
    add_review(session, _review("p-2", reviewer="elsewhere"))
    assert [r.reviewer for r in list_reviews(session, "p-1")] == ["tie-1", "tie-2", "late"]
    assert list_reviews(session, "p-1") == [first_tie, second_tie, late]
    assert [r.reviewer for r in list_reviews(session, "p-2")] == ["elsewhere"]


def test_unknown_plan(session: Session) -> None:
    with pytest.raises(UnknownPlanError, match="ghost: no such plan"):
        add_review(session, _review("ghost"))
    assert list_reviews(session, "ghost") == []


def test_review_with_an_id_is_refused(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("p-1"))
    with pytest.raises(ValueError, match="already recorded"):
        add_review(session, _review(id=7))


def test_naive_reviewed_at_is_refused(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("p-1"))
    with pytest.raises(ValueError, match="naive datetime"):
        add_review(session, _review(reviewed_at=datetime(2025, 1, 1)))  # noqa: DTZ001


def test_reviews_are_deleted_with_their_plan(engine: Engine, make_plan: MakePlan) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("doomed"))
        create_plan(session, make_plan("kept"))
        add_review(session, _review("doomed"))
        add_review(session, _review("doomed", verdict=Verdict.REJECTED))
        add_review(session, _review("kept"))
    # Deleted in SQL, not through the ORM: the database's ON DELETE CASCADE does the work.
    with session_scope(engine) as session:
        session.execute(delete(PlanRow).where(PlanRow.id == "doomed"))
    with session_scope(engine) as session:
        assert list_reviews(session, "doomed") == []
        assert [r.plan_id for r in list_reviews(session, "kept")] == ["kept"]
        assert session.scalar(select(func.count()).select_from(ReviewRow)) == 1
