"""Record functions for runs and their cell events, including the run lease.

A running run holds two things in the store: ``running_plan_id`` (unique, so one plan has at
most one running run) and a lease (owner, epoch, heartbeat; ``runbook.store.leases``). A
writer whose epoch is stale is refused, and a run whose lease expired is marked
``interrupted`` by whoever looks next.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, PlanRunningError, UnknownRunError
from runbook.model.run import CellEvent, CellStatus, Decision, Run, RunMode, RunState
from runbook.store.leases import (
    RUN_LEASE,
    OwnerGone,
    fenced_update,
    interrupt_expired,
    renew_lease,
)
from runbook.store.run_records import ids_starting, newest_rows
from runbook.store.tables import CellEventRow, RunRow


def create_run(session: Session, run: Run) -> None:
    """Insert a running run, taking its plan's run lock.

    Raises PlanRunningError when another run of the same plan is running.
    """
    row = RunRow(
        id=run.id,
        plan_id=run.plan_id,
        executor=run.executor,
        mode=run.mode.value,
        state=run.state.value,
        started_at=run.started_at,
        ended_at=run.ended_at,
        notebook_path=run.notebook_path,
        lease_owner=run.lease_owner,
        lease_epoch=run.lease_epoch,
        heartbeat_at=run.heartbeat_at or run.started_at,
        resumed_from=run.resumed_from,
        start_cell=run.start_cell,
        message=run.message,
        running_plan_id=run.plan_id if run.state is RunState.RUNNING else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        holder = session.scalars(
            select(RunRow).where(RunRow.running_plan_id == run.plan_id)
        ).first()
        if holder is None:
            raise AlreadyExistsError(f"run {run.id}") from None
        raise PlanRunningError(
            f"plan {run.plan_id} is already running (run {holder.id} by {holder.executor} "
            f"since {holder.started_at.isoformat(timespec='seconds')})"
        ) from None


def get_run(session: Session, run_id: str) -> Run:
    """The run with this id; UnknownRunError if there is none."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise UnknownRunError(run_id)
    return _to_run(row)


def list_runs(
    session: Session,
    *,
    plan_id: str | None = None,
    state: RunState | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Run]:
    """Runs, newest first, optionally for one plan or in one state (after ``offset``)."""
    state_value = state.value if state else None
    rows = newest_rows(
        session, RunRow, limit=limit, offset=offset, plan_id=plan_id, state=state_value
    )
    return [_to_run(row) for row in rows]


def spending_run(session: Session, plan_id: str) -> str | None:
    """The first run of the plan that succeeded other than as a dry run: it spent the plan's
    approval. None when there is none."""
    query = (
        select(RunRow.id)
        .where(
            RunRow.plan_id == plan_id,
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.mode != RunMode.DRY_RUN.value,
        )
        .order_by(RunRow.started_at, RunRow.id)
        .limit(1)
    )
    return session.scalar(query)


def run_ids(session: Session, prefix: str = "") -> list[str]:
    """Run ids starting with ``prefix``, sorted (for shell completion)."""
    return ids_starting(session, RunRow, prefix)


def heartbeat(session: Session, run_id: str, epoch: int, now: datetime | None = None) -> None:
    """Renew a run's lease; LeaseLostError when the run is no longer ours (epoch or state)."""
    renew_lease(session, RUN_LEASE, run_id, epoch, now)


def finish_run(
    session: Session,
    run_id: str,
    epoch: int,
    state: RunState,
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    """End a run in ``state`` and release its plan's run lock (as its lease's holder)."""
    if state is RunState.RUNNING:
        raise ValueError("finish_run needs a final state")
    fenced_update(
        session,
        RUN_LEASE,
        run_id,
        epoch,
        state=state.value,
        ended_at=now or datetime.now(UTC),
        message=message,
        running_plan_id=None,
    )


def sweep_interrupted(
    session: Session,
    *,
    lease_seconds: float,
    owner_gone: OwnerGone | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Mark running runs whose lease expired (or whose owner is gone) ``interrupted``.

    Returns the ids marked. The outcome of such a run is unknown: it is never turned into
    ``failed`` and never retried here.
    """
    moment = now or datetime.now(UTC)
    rows = interrupt_expired(
        session,
        RUN_LEASE,
        lease_seconds=lease_seconds,
        owner_gone=owner_gone,
        now=moment,
        ended_at=moment,
        running_plan_id=None,
        message="the executing process stopped heart-beating; the outcome of the cell in "
        "flight is unknown",
    )
    return [row.id for row in rows]


def add_cell_event(session: Session, event: CellEvent) -> CellEvent:
    """Record what happened to one cell; returns it with its id."""
    row = CellEventRow(
        run_id=event.run_id,
        cell_index=event.cell_index,
        cell_id=event.cell_id,
        cell_type=event.cell_type,
        tags=list(event.tags),
        status=event.status.value,
        decision=event.decision.value if event.decision else None,
        decided_by=event.decided_by,
        started_at=event.started_at,
        ended_at=event.ended_at,
        error=event.error,
    )
    session.add(row)
    session.flush()
    return _to_event(row)


def list_cell_events(session: Session, run_id: str) -> list[CellEvent]:
    """A run's cell events in the order they happened."""
    query = select(CellEventRow).where(CellEventRow.run_id == run_id).order_by(CellEventRow.id)
    return [_to_event(row) for row in session.scalars(query)]


def _to_run(row: RunRow | Row[Any]) -> Run:
    return Run(
        id=row.id,
        plan_id=row.plan_id,
        executor=row.executor,
        mode=RunMode(row.mode),
        state=RunState(row.state),
        started_at=row.started_at,
        notebook_path=row.notebook_path,
        lease_owner=row.lease_owner,
        lease_epoch=row.lease_epoch,
        heartbeat_at=row.heartbeat_at,
        ended_at=row.ended_at,
        resumed_from=row.resumed_from,
        start_cell=row.start_cell,
        message=row.message,
    )


def _to_event(row: CellEventRow) -> CellEvent:
    return CellEvent(
        run_id=row.run_id,
        cell_index=row.cell_index,
        cell_type=row.cell_type,
        status=CellStatus(row.status),
        tags=tuple(row.tags),
        cell_id=row.cell_id,
        decision=Decision(row.decision) if row.decision else None,
        decided_by=row.decided_by,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        id=row.id,
    )
