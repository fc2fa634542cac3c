"""Record functions of retention: which finished records expired, and deleting them.

Deleting a run deletes its cell events, a workflow run its task records, and a playbook run
its target records and locks (the foreign keys cascade). Audit events are never deleted:
``runbook gc`` appends one saying what it removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from runbook.model.playbooks.playbook_run import PlaybookRunState
from runbook.model.run import RunState
from runbook.model.workflows.workflow_run import WorkflowState
from runbook.store.tables import PlaybookRunRow, RunRow, WorkflowRunRow

# kind → (table, id column, end column, the state that is not finished)
_TABLES: Final[dict[str, tuple[Any, Any, Any, str]]] = {
    "runs": (RunRow, RunRow.id, RunRow.ended_at, RunState.RUNNING.value),
    "workflow_runs": (
        WorkflowRunRow,
        WorkflowRunRow.id,
        WorkflowRunRow.ended_at,
        WorkflowState.RUNNING.value,
    ),
    "playbook_runs": (
        PlaybookRunRow,
        PlaybookRunRow.id,
        PlaybookRunRow.finish_ts,
        PlaybookRunState.RUNNING.value,
    ),
}


def expired_ids(session: Session, kind: str, cutoff: datetime) -> list[str]:
    """Ids of the finished records of ``kind`` that ended before ``cutoff``, oldest first."""
    table, id_column, end_column, running = _TABLES[kind]
    query = (
        select(id_column)
        .where(end_column.is_not(None), end_column < cutoff, table.state != running)
        .order_by(end_column, id_column)
    )
    return list(session.scalars(query))


def delete_records(session: Session, kind: str, ids: list[str]) -> int:
    """Delete these records of ``kind`` (and, by cascade, what belongs to them)."""
    if not ids:
        return 0
    table, id_column, _, running = _TABLES[kind]
    result = session.execute(
        delete(table)
        .where(id_column.in_(ids), table.state != running)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def existing_ids(session: Session, kind: str, ids: list[str]) -> set[str]:
    """Those of ``ids`` that have a record of ``kind`` (whatever its state)."""
    if not ids:
        return set()
    _, id_column, _, _ = _TABLES[kind]
    return set(session.scalars(select(id_column).where(id_column.in_(ids))))
