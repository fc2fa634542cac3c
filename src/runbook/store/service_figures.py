"""What the service's metrics read from the store: counts and durations of runs, cells and
gates. Every query reads two columns at most per row: a scrape stays cheap with history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from runbook.store.live_tables import RunGateRow
from runbook.store.tables import CellEventRow, RunRow


def runs_by_state(session: Session) -> dict[str, int]:
    """How many runs are in each state."""
    query = select(RunRow.state, func.count()).group_by(RunRow.state)
    return {str(state): int(count) for state, count in session.execute(query)}


def _seconds(pairs: list[tuple[datetime | None, datetime | None]]) -> list[float]:
    return [
        max((end - start).total_seconds(), 0.0)
        for start, end in pairs
        if start is not None and end is not None
    ]


def run_durations(session: Session) -> list[float]:
    """The durations, in seconds, of every run that ended."""
    query = select(RunRow.started_at, RunRow.ended_at).where(RunRow.ended_at.is_not(None))
    return _seconds([(start, end) for start, end in session.execute(query)])


def cell_durations(session: Session) -> list[float]:
    """The durations, in seconds, of every cell that ended."""
    query = select(CellEventRow.started_at, CellEventRow.ended_at).where(
        CellEventRow.ended_at.is_not(None)
    )
    return _seconds([(start, end) for start, end in session.execute(query)])


def gate_waits(session: Session) -> tuple[list[float], int]:
    """How long decided gates waited for their decision (seconds), and how many wait now."""
    decided = select(RunGateRow.opened_at, RunGateRow.decided_at).where(
        RunGateRow.decided_at.is_not(None)
    )
    waiting = select(func.count()).select_from(RunGateRow).where(RunGateRow.decided_at.is_(None))
    waits = _seconds([(opened, at) for opened, at in session.execute(decided)])
    return waits, int(session.scalar(waiting) or 0)


def reachable(session: Session) -> None:
    """One round trip to the store (its error propagates)."""
    session.execute(text("SELECT 1"))
