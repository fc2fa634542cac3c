"""The stored bytes of plan notebooks, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, UnknownPlanError
from runbook.model.plan import Plan
from runbook.store.db import downgrade, session_scope, upgrade
from runbook.store.plan_notebooks import plan_notebook_bytes, store_plan_notebook
from runbook.store.plans import create_plan, get_plan
from runbook.store.tables import PlanRow

MakePlan = Callable[..., Plan]

# Not valid JSON on purpose: the store keeps bytes, exactly, whatever they are.
ODD_BYTES = b'{"cells": []}\n\x00\xff\xfe caf\xc3\xa9 \r\n' + bytes(range(256))


def test_bytes_come_back_exactly(engine: Engine, make_plan: MakePlan) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("p-1"))
        store_plan_notebook(session, "p-1", ODD_BYTES)
    with session_scope(engine) as session:
        assert plan_notebook_bytes(session, "p-1") == ODD_BYTES


def test_a_plan_without_stored_bytes_reads_none(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("p-1"))
    assert plan_notebook_bytes(session, "p-1") is None
    assert plan_notebook_bytes(session, "never-planned") is None


def test_the_notebook_of_an_unknown_plan_is_refused(session: Session) -> None:
    with pytest.raises(UnknownPlanError):
        store_plan_notebook(session, "p-404", b"{}")


def test_a_plan_notebook_is_recorded_once(session: Session, make_plan: MakePlan) -> None:
    create_plan(session, make_plan("p-1"))
    store_plan_notebook(session, "p-1", b"first")
    with pytest.raises(AlreadyExistsError, match="notebook of plan p-1"):
        store_plan_notebook(session, "p-1", b"second")
    assert plan_notebook_bytes(session, "p-1") == b"first"


def test_a_rolled_back_plan_leaves_no_notebook(engine: Engine, make_plan: MakePlan) -> None:
    with Session(engine) as session:
        create_plan(session, make_plan("p-1"))
        store_plan_notebook(session, "p-1", b"{}")
        session.rollback()
    with session_scope(engine) as session:
        assert plan_notebook_bytes(session, "p-1") is None


def _row(plan: Plan) -> PlanRow:
    """The row create_plan writes for ``plan`` (the columns of revision 0006 filled)."""
    return PlanRow(
        id=plan.id,
        runbook_path=plan.runbook_path,
        title=plan.title,
        sha256=plan.sha256,
        parameters=plan.parameters,
        planned_by=plan.planned_by,
        planned_at=plan.planned_at,
        state=plan.state.value,
        notebook_path=plan.notebook_path,
        review_required=plan.review_required,
        content=plan.content,
        review_rules=None,
    )


def test_plans_recorded_before_0007_keep_working_after_it(
    engine: Engine, make_plan: MakePlan
) -> None:
    downgrade(engine, "0006")
    with engine.begin() as connection:  # as runbook at 0006 wrote it: no later column
        row = {c.name: getattr(_row(make_plan("p-old")), c.name) for c in PlanRow.__table__.c}
        del row["review_rules"], row["standing_approval"]
        connection.execute(insert(PlanRow).values(row))
    upgrade(engine)
    with session_scope(engine) as session:
        assert get_plan(session, "p-old").id == "p-old"
        assert plan_notebook_bytes(session, "p-old") is None
        store_plan_notebook(session, "p-old", b"{}")
    downgrade(engine, "0006")  # and back: the plan stays, its bytes go with the table
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM plans")).scalars().all() == ["p-old"]
