"""Record functions for a run's event stream: appended in order, read after a sequence.

A run's events are written by the one process executing it, one transaction at a time, so
the sequence numbers commit in order: a follower reading after ``seq`` never skips one
that commits later with a smaller number (unique per run, a second writer is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runbook.model.gates import RunEvent, RunEventKind
from runbook.store.live_tables import RunEventRow
from runbook.store.live_wait import notify


def append_run_event(
    session: Session,
    run_id: str,
    kind: RunEventKind,
    data: dict[str, Any],
    cell_index: int | None = None,
) -> int:
    """Append one event to the run's stream; its sequence number (from 1)."""
    last = session.scalar(select(func.max(RunEventRow.seq)).where(RunEventRow.run_id == run_id))
    seq = (last or 0) + 1
    session.add(
        RunEventRow(
            run_id=run_id,
            seq=seq,
            kind=kind.value,
            at=datetime.now(UTC),
            cell_index=cell_index,
            data=data,
        )
    )
    session.flush()
    notify(session, run_id)
    return seq


def events_after(
    session: Session, run_id: str, seq: int = 0, limit: int | None = None
) -> list[RunEvent]:
    """The run's events with a sequence number above ``seq``, in order."""
    query = (
        select(RunEventRow)
        .where(RunEventRow.run_id == run_id, RunEventRow.seq > seq)
        .order_by(RunEventRow.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        RunEvent(
            run_id=row.run_id,
            seq=row.seq,
            kind=RunEventKind(row.kind),
            at=row.at,
            data=row.data,
            cell_index=row.cell_index,
        )
        for row in session.scalars(query)
    ]
