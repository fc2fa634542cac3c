"""The lease every kind of run holds while it runs: its owner, its epoch, its heartbeat.

Runs, workflow runs and playbook runs are leased alike. A running record names the process
executing it (``lease_owner``, ``host:pid``), the writer allowed to change it
(``lease_epoch``) and when that writer last said it was alive (``heartbeat_at``). Every write
of a holder is fenced: it changes the record only while the record is running at the
holder's epoch, and a write that changes no row is refused, because the lease was taken over
or a sweep marked the record interrupted. A record whose heartbeat is older than a lease, or
whose owner is seen to be gone, has an expired lease: whoever looks next marks it
interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runbook.errors import StoreError
from runbook.model.playbooks.playbook_run import PlaybookRunState
from runbook.model.run import RunState
from runbook.model.workflows.workflow_run import WorkflowState
from runbook.store.tables import PlaybookRunRow, RunRow, WorkflowRunRow

#: Decides whether a lease's owner is certainly dead (e.g. a pid on this host that is gone).
OwnerGone = Callable[[str], bool]
Leased = TypeVar("Leased", RunRow, WorkflowRunRow, PlaybookRunRow)


@dataclass(frozen=True)
class LeaseKind(Generic[Leased]):
    """One kind of leased record: its table, its state while running, what it is called."""

    table: type[Leased]
    running: str
    interrupted: str
    noun: str


RUN_LEASE: Final = LeaseKind(RunRow, RunState.RUNNING.value, RunState.INTERRUPTED.value, "run")
WORKFLOW_RUN_LEASE: Final = LeaseKind(
    WorkflowRunRow, WorkflowState.RUNNING.value, WorkflowState.INTERRUPTED.value, "workflow run"
)
PLAYBOOK_RUN_LEASE: Final = LeaseKind(
    PlaybookRunRow,
    PlaybookRunState.RUNNING.value,
    PlaybookRunState.INTERRUPTED.value,
    "playbook run",
)
LEASE_KINDS: Final = (RUN_LEASE, WORKFLOW_RUN_LEASE, PLAYBOOK_RUN_LEASE)


class LeaseLostError(StoreError):
    """A holder's write was refused: the record is no longer running at its epoch."""

    def __init__(self, kind: LeaseKind[Leased], record_id: str) -> None:
        super().__init__(
            f"{kind.noun} {record_id} is no longer held by this process (its lease was "
            "taken over or it was marked interrupted)"
        )


def renew_lease(
    session: Session,
    kind: LeaseKind[Leased],
    record_id: str,
    epoch: int,
    now: datetime | None = None,
) -> None:
    """Renew a lease; :class:`LeaseLostError` when the record is no longer this holder's."""
    fenced_update(session, kind, record_id, epoch, heartbeat_at=now or datetime.now(UTC))


def fenced_update(
    session: Session, kind: LeaseKind[Leased], record_id: str, epoch: int, **values: object
) -> None:
    """Change a running record as the holder of its lease at ``epoch``.

    Raises :class:`LeaseLostError`, changing nothing, when the record is not running at that
    epoch (any more).
    """
    table = kind.table
    result = session.execute(
        update(table)
        .where(table.id == record_id, table.lease_epoch == epoch, table.state == kind.running)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLostError(kind, record_id)


def _expired_leases(
    session: Session,
    kind: LeaseKind[Leased],
    *,
    lease_seconds: float,
    owner_gone: OwnerGone | None = None,
    now: datetime | None = None,
) -> list[Leased]:
    """The running records of ``kind`` whose heartbeat is a lease old, or whose owner is gone."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=lease_seconds)
    table = kind.table
    running = session.scalars(select(table).where(table.state == kind.running))
    return [
        row
        for row in running
        if row.heartbeat_at is None
        or row.heartbeat_at < cutoff
        or (owner_gone is not None and owner_gone(row.lease_owner))
    ]


def interrupt_expired(
    session: Session,
    kind: LeaseKind[Leased],
    *,
    lease_seconds: float,
    owner_gone: OwnerGone | None = None,
    now: datetime,
    **values: object,
) -> list[Leased]:
    """Mark the records of ``kind`` whose lease expired ``interrupted``, with ``values`` set
    on each too (when it ended, why); the rows marked, flushed."""
    rows = _expired_leases(
        session, kind, lease_seconds=lease_seconds, owner_gone=owner_gone, now=now
    )
    for row in rows:
        row.state = kind.interrupted
        for column, value in values.items():
            setattr(row, column, value)
    session.flush()
    return rows
