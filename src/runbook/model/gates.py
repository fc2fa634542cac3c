"""Gates decided from elsewhere, and the events a run streams while it runs.

A run without a terminal (started by the service) waits at each gate until someone
authorized decides it in the store. :class:`GateKind` says what is asked, and
:data:`GATE_OPTIONS` which decisions answer it: the terminal's choices at the same gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from runbook.model.run import Decision


class GateKind(StrEnum):
    """What a gate asks: before a confirm cell, at a manual step, after a failure or an
    interrupt."""

    CONFIRM = "confirm"
    MANUAL = "manual"
    FAILURE = "failure"
    INTERRUPT = "interrupt"


#: The decisions each kind of gate takes, in the order the terminal offers them.
GATE_OPTIONS: Final[dict[GateKind, tuple[Decision, ...]]] = {
    GateKind.CONFIRM: (Decision.YES, Decision.SKIP, Decision.ABORT, Decision.ROLLBACK),
    GateKind.MANUAL: (Decision.ACKNOWLEDGED, Decision.SKIP, Decision.ABORT, Decision.ROLLBACK),
    GateKind.FAILURE: (Decision.RETRY, Decision.SKIP, Decision.ABORT, Decision.ROLLBACK),
    GateKind.INTERRUPT: (Decision.RETRY, Decision.SKIP, Decision.ABORT, Decision.ROLLBACK),
}


class RunEventKind(StrEnum):
    """What a run's event stream tells, in the names of its log (``log.jsonl``)."""

    RUN_STARTED = "run.started"
    CELL_STARTED = "cell.started"
    CELL_OUTPUT = "cell.output"
    GATE_WAITING = "gate.waiting"
    CELL_DECIDED = "cell.decided"
    CELL_FINISHED = "cell.finished"
    RUN_FINISHED = "run.finished"


@dataclass(frozen=True)
class Gate:
    """One wait of a run at a cell: what is asked, what the decider sees, and the answer.

    ``view`` is what the terminal shows at the same gate: the cell's source and tags, the
    plan's values (masked, secrets as references) and, after a failure, the masked error.
    """

    run_id: str
    cell_index: int
    kind: GateKind
    options: tuple[Decision, ...]
    view: dict[str, Any]
    executor: str
    opened_at: datetime
    cell_id: str | None = None
    #: Only someone other than the executor may decide it (``metadata.runbook.gate``).
    by_other: bool = False
    decision: Decision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def waiting(self) -> bool:
        """True until it is decided."""
        return self.decision is None


@dataclass(frozen=True)
class RunEvent:
    """One event of a run's stream; ``seq`` counts from 1 per run, with no gaps."""

    run_id: str
    seq: int
    kind: RunEventKind
    at: datetime
    data: dict[str, Any]
    cell_index: int | None = None


def parse_cell(text: str) -> int | str:
    """A gate's cell as a route or command names it: its number (from 0) or its id."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


def event_to_json(event: RunEvent) -> dict[str, Any]:
    """An event of the stream as plain JSON (what a follower is sent)."""
    return {
        "run": event.run_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "at": event.at.isoformat(),
        "cell": event.cell_index,
        "data": event.data,
    }


def gate_to_json(gate: Gate) -> dict[str, Any]:
    """A gate as plain JSON: what it asks, what the decider sees, and its decision."""
    return {
        "run": gate.run_id,
        "cell": gate.cell_index,
        "cell_id": gate.cell_id,
        "kind": gate.kind.value,
        "options": [o.value for o in gate.options],
        "view": gate.view,
        "executor": gate.executor,
        "by_other": gate.by_other,
        "opened_at": gate.opened_at.isoformat(),
        "decision": gate.decision.value if gate.decision else None,
        "decided_by": gate.decided_by,
        "decided_at": gate.decided_at.isoformat() if gate.decided_at else None,
    }
