"""Record functions for plan notebooks: the exact bytes of each plan, beside its record.

The bytes are kept as they were written, not re-encoded, so that every machine on the store
reads (and caches under ``runs/plans/``) the very file the planner wrote. Whether they still
match the plan's sha256 is the caller's check (``runbook.orchestrate.plan_store``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, UnknownPlanError
from runbook.store.tables import PlanNotebookRow, PlanRow


def store_plan_notebook(session: Session, plan_id: str, notebook: bytes) -> None:
    """Record the notebook of a recorded plan (flushed, not committed: the caller commits
    it with the plan's record).

    Raises :class:`UnknownPlanError` when there is no such plan and
    :class:`AlreadyExistsError` when its notebook is recorded already: a plan is frozen.
    """
    if session.get(PlanRow, plan_id) is None:
        raise UnknownPlanError(plan_id)
    if session.get(PlanNotebookRow, plan_id) is not None:
        raise AlreadyExistsError(f"notebook of plan {plan_id}")
    session.add(PlanNotebookRow(plan_id=plan_id, notebook=bytes(notebook)))
    session.flush()


def plan_notebook_bytes(session: Session, plan_id: str) -> bytes | None:
    """The stored bytes of the plan's notebook; None for a plan recorded without them."""
    # A query, not session.get: the blob is read when asked for and not kept in the
    # session's identity map longer than the statement.
    stored = session.scalar(
        select(PlanNotebookRow.notebook).where(PlanNotebookRow.plan_id == plan_id)
    )
    return None if stored is None else bytes(stored)
