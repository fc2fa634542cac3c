"""A run: one execution of a plan, and what happened to each of its cells."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

#: ``decided_by`` of a decision no person made: a rule of a non-interactive run chose (a
#: failing cell ends the run; a playbook step rolls back). In parentheses so that it does
#: not read as anyone's name.
AUTOMATIC_DECIDER: Final = "(automatic)"


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
    """What became of one cell in a run. ``exited``: it ended the run successfully with
    ``sys.exit(0)``, ``sys.exit()`` or ``raise SystemExit`` (as papermill counts it)."""

    SUCCEEDED = "succeeded"
    EXITED = "exited"
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


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, readable run id: ``<UTC timestamp>-<4 hex>``."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


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


def run_to_json(run: Run) -> dict[str, object]:
    """A run as plain JSON (to hand it to another process)."""
    return {
        **{k: v for k, v in run.__dict__.items() if not isinstance(v, datetime | StrEnum)},
        "mode": run.mode.value,
        "state": run.state.value,
        "started_at": run.started_at.isoformat(),
        "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
    }


def run_from_json(data: dict[str, object]) -> Run:
    """The run ``run_to_json`` wrote."""
    values: dict[str, object] = dict(data)
    values["mode"] = RunMode(str(data["mode"]))
    values["state"] = RunState(str(data["state"]))
    for key in ("started_at", "heartbeat_at", "ended_at"):
        values[key] = datetime.fromisoformat(str(data[key])) if data.get(key) else None
    return Run(**values)  # type: ignore[arg-type]


def event_to_json(event: CellEvent) -> dict[str, object]:
    """A cell event as plain JSON."""
    return {
        **{k: v for k, v in event.__dict__.items() if not isinstance(v, datetime | StrEnum)},
        "tags": list(event.tags),
        "status": event.status.value,
        "decision": event.decision.value if event.decision else None,
        "started_at": event.started_at.isoformat() if event.started_at else None,
        "ended_at": event.ended_at.isoformat() if event.ended_at else None,
    }


def event_from_json(data: dict[str, object]) -> CellEvent:
    """The cell event ``event_to_json`` wrote."""
    values: dict[str, object] = dict(data)
    tags = data.get("tags")
    values["tags"] = tuple(str(t) for t in tags) if isinstance(tags, list | tuple) else ()
    values["status"] = CellStatus(str(data["status"]))
    values["decision"] = Decision(str(data["decision"])) if data.get("decision") else None
    for key in ("started_at", "ended_at"):
        values[key] = datetime.fromisoformat(str(data[key])) if data.get(key) else None
    return CellEvent(**values)  # type: ignore[arg-type]
