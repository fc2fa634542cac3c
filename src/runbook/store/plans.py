"""Record functions for plans. They take and return :class:`runbook.model.plan.Plan`."""

from __future__ import annotations

import copy
import json

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, UnknownPlanError
from runbook.model.plan import Plan, PlanState
from runbook.model.review_rules import RecordedRules
from runbook.store.tables import PlanRow, require_aware


def create_plan(session: Session, plan: Plan) -> None:
    """Record a new plan.

    Raises :class:`AlreadyExistsError` when a plan with the same id exists, and
    ``ValueError`` when ``planned_at`` is naive or the parameters are not JSON. The session
    stays usable after either error.
    """
    try:
        json.dumps(plan.parameters, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"plan {plan.id}: parameters are not plain JSON: {exc}") from exc
    planned_at = require_aware(plan.planned_at, f"plan {plan.id}: planned_at")
    if session.get(PlanRow, plan.id) is not None:
        raise AlreadyExistsError(f"plan {plan.id}")
    row = PlanRow(
        id=plan.id,
        runbook_path=plan.runbook_path,
        title=plan.title,
        sha256=plan.sha256,
        parameters=copy.deepcopy(plan.parameters),
        planned_by=plan.planned_by,
        planned_at=planned_at,
        state=PlanState(plan.state).value,
        notebook_path=plan.notebook_path,
        review_required=plan.review_required,
        content=plan.content,
        review_rules=plan.review_rules.to_json() if plan.review_rules is not None else None,
        standing_approval=plan.standing_approval,
    )
    try:
        # A savepoint, so that losing a race to another writer leaves the caller's
        # transaction intact (PostgreSQL aborts the whole transaction on an error).
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        exists = session.scalar(select(PlanRow.id).where(PlanRow.id == plan.id))
        if exists is not None:
            raise AlreadyExistsError(f"plan {plan.id}") from exc
        raise


def get_plan(session: Session, plan_id: str) -> Plan:
    """The plan with this id; :class:`UnknownPlanError` when there is none."""
    row = session.get(PlanRow, plan_id)
    if row is None:
        raise UnknownPlanError(plan_id)
    return _to_plan(row)


def list_plans(
    session: Session,
    *,
    runbook_path: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Plan]:
    """Plans, newest first (``planned_at`` then id, descending), optionally of one runbook,
    after skipping ``offset``."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    query = select(PlanRow).order_by(PlanRow.planned_at.desc(), PlanRow.id.desc())
    if runbook_path is not None:
        query = query.where(PlanRow.runbook_path == runbook_path)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [_to_plan(row) for row in session.scalars(query)]


def plan_ids(session: Session, prefix: str = "") -> list[str]:
    """Ids of the plans starting with ``prefix`` (case-sensitive), sorted; for completion."""
    query = select(PlanRow.id)
    if prefix:
        # Not LIKE: SQLite's LIKE ignores case and '%'/'_' in the prefix would need escaping.
        query = query.where(func.substr(PlanRow.id, 1, len(prefix)) == prefix)
    # Sorted here, not in SQL, so the order is by code point whatever the server collation.
    return sorted(session.scalars(query))


def set_plan_state(session: Session, plan_id: str, state: PlanState) -> None:
    """Move a plan to ``state``; :class:`UnknownPlanError` when there is no such plan."""
    row = session.get(PlanRow, plan_id)
    if row is None:
        raise UnknownPlanError(plan_id)
    row.state = PlanState(state).value
    session.flush()


def _to_plan(row: PlanRow) -> Plan:
    return Plan(
        id=row.id,
        runbook_path=row.runbook_path,
        title=row.title,
        sha256=row.sha256,
        # A copy: the row stays in the session's identity map and must not be aliased.
        parameters=copy.deepcopy(row.parameters),
        planned_by=row.planned_by,
        planned_at=row.planned_at,
        state=PlanState(row.state),
        notebook_path=row.notebook_path,
        review_required=row.review_required,
        content=row.content,
        review_rules=RecordedRules.from_json(row.review_rules),
        standing_approval=row.standing_approval,
    )
