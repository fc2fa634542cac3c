"""A run: one execution of a plan, and what happened to each of its cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunState(StrEnum):
    """Where a run is. ``interrupted`` means the outcome is unknown: the process died."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    ROLLED_BACK = "rolled_back"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True for every state but running."""
        return self is not RunState.RUNNING


class RunMode(StrEnum):
    """How a run was driven."""

    INTERACTIVE = "interactive"
    AUTOMATIC = "automatic"
    DRY_RUN = "dry-run"


class CellStatus(StrEnum):
    """What became of one cell in a run."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    SHOWN = "shown"
    INTERRUPTED = "interrupted"


class Decision(StrEnum):
    """What an operator (or a flag standing in for one) decided at a gate."""

    YES = "yes"
    SKIP = "skip"
    ABORT = "abort"
    ROLLBACK = "rollback"
    RETRY = "retry"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class Run:
    """The record of one run. ``lease_*`` fields prove the executing process is alive."""

    id: str
    plan_id: str
    executor: str
    mode: RunMode
    state: RunState
    started_at: datetime
    notebook_path: str
    lease_owner: str
    lease_epoch: int = 1
    heartbeat_at: datetime | None = None
    ended_at: datetime | None = None
    resumed_from: str | None = None
    start_cell: int = 0
    message: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, None while running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class CellEvent:
    """What happened to one cell: timing, status and who decided at its gate."""

    run_id: str
    cell_index: int
    cell_type: str
    status: CellStatus
    tags: tuple[str, ...] = ()
    cell_id: str | None = None
    decision: Decision | None = None
    decided_by: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def duration(self) -> float | None:
        """Seconds the cell took, None when it did not execute."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
