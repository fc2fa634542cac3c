"""Record functions for the gates of runs without a terminal, and requests sent to runs.

A gate is opened by the run's process and decided once, by anyone allowed: the decision is
a conditional update of an undecided row, so of two deciders racing exactly one wins.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runbook.model.gates import Gate, GateKind
from runbook.model.run import Decision
from runbook.store.live_tables import RunControlRow, RunGateRow
from runbook.store.live_wait import notify


def open_gate(session: Session, gate: Gate) -> int:
    """Record a run waiting at a gate; the gate's id."""
    row = RunGateRow(
        run_id=gate.run_id,
        cell_index=gate.cell_index,
        cell_id=gate.cell_id,
        kind=gate.kind.value,
        options=[o.value for o in gate.options],
        shown=gate.view,
        executor=gate.executor,
        by_other=gate.by_other,
        opened_at=gate.opened_at,
    )
    session.add(row)
    session.flush()
    notify(session, gate.run_id)
    return row.id


def get_gate(session: Session, gate_id: int) -> Gate | None:
    """The gate with this id, None if there is none."""
    row = session.get(RunGateRow, gate_id)
    return _to_gate(row) if row is not None else None


def list_gates(session: Session, run_id: str) -> list[Gate]:
    """A run's gates in the order they were opened."""
    query = select(RunGateRow).where(RunGateRow.run_id == run_id).order_by(RunGateRow.id)
    return [_to_gate(row) for row in session.scalars(query)]


def waiting_gate(session: Session, run_id: str) -> Gate | None:
    """The gate the run waits at now, None when it waits at none."""
    query = (
        select(RunGateRow)
        .where(RunGateRow.run_id == run_id, RunGateRow.decision.is_(None))
        .order_by(RunGateRow.id.desc())
        .limit(1)
    )
    row = session.scalars(query).first()
    return _to_gate(row) if row is not None else None


def record_decision(session: Session, gate_id: int, decision: Decision, by: str) -> bool:
    """Decide a waiting gate; False (nothing changed) when it was decided already."""
    result = session.execute(
        update(RunGateRow)
        .where(RunGateRow.id == gate_id, RunGateRow.decision.is_(None))
        .values(decision=decision.value, decided_by=by, decided_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    decided = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if decided:
        run_id = session.scalar(select(RunGateRow.run_id).where(RunGateRow.id == gate_id))
        notify(session, run_id or "")
    return decided


def add_control(session: Session, run_id: str, kind: str, by: str, reason: str | None) -> int:
    """Record a request (``cancel``, ``interrupt``) to a running run; its id."""
    row = RunControlRow(
        run_id=run_id, kind=kind, requested_by=by, requested_at=datetime.now(UTC), reason=reason
    )
    session.add(row)
    session.flush()
    notify(session, run_id)
    return row.id


def controls_after(session: Session, run_id: str, after: int) -> list[tuple[int, str, str]]:
    """The requests to a run with an id above ``after``: (id, kind, requested by)."""
    query = (
        select(RunControlRow.id, RunControlRow.kind, RunControlRow.requested_by)
        .where(RunControlRow.run_id == run_id, RunControlRow.id > after)
        .order_by(RunControlRow.id)
    )
    return [(i, k, b) for i, k, b in session.execute(query)]


def _to_gate(row: RunGateRow) -> Gate:
    return Gate(
        run_id=row.run_id,
        cell_index=row.cell_index,
        kind=GateKind(row.kind),
        options=tuple(Decision(o) for o in row.options),
        view=row.shown,
        executor=row.executor,
        opened_at=row.opened_at,
        cell_id=row.cell_id,
        by_other=row.by_other,
        decision=Decision(row.decision) if row.decision else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        id=row.id,
    )
