"""A run's event stream, written as it runs, for followers in any process on the store.

:class:`EventObserver` appends every event the log (``log.jsonl``) has, masked alike, plus
gate waits, to the store's ``run_events`` with a per-run sequence number
(:mod:`runbook.store.run_events`); :func:`follow` reads them after a sequence number and
waits for more, so a follower that reconnects with the last number it saw resumes with the
next one: none lost, none repeated, whichever server it reconnects to.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.engine.hooks import RunContext, RunObserver, output_text
from runbook.errors import StoreError
from runbook.model.gates import RunEvent, RunEventKind
from runbook.model.run import CellEvent, Decision, Run, RunState
from runbook.orchestrate.leases import lease_seconds, owner_gone
from runbook.orchestrate.sweeping import sweep
from runbook.store.live_wait import wait_for
from runbook.store.retry import retrying
from runbook.store.run_events import append_run_event, events_after
from runbook.store.runs import get_run, heartbeat
from runbook.typing import Cell, Output

#: How often a follower on SQLite looks for new events (PostgreSQL wakes it at each commit):
#: half of it is what an event waits on average before a follower sees it.
FOLLOW_POLL = 0.05


class EventObserver(RunObserver):
    """Appends each event of the run to its stream in the store, masked.

    Each write is fenced by the run's lease, as the cell records are; when the store stops
    taking them the stream ends there (the run's record observer stops the run).
    """

    def __init__(self, sessions: sessionmaker[Session], budget: float = 30.0) -> None:
        self._sessions = sessions
        self._budget = budget
        self._ctx: RunContext | None = None
        self.lost: StoreError | None = None

    def run_started(self, ctx: RunContext) -> None:
        self._ctx = ctx
        run = ctx.run
        self.write(
            RunEventKind.RUN_STARTED,
            {"executor": run.executor, "mode": run.mode.value, "plan": run.plan_id},
        )

    def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
        self.write(RunEventKind.CELL_STARTED, {"tags": list(cell.metadata.get("tags", []))}, index)

    def cell_output(self, ctx: RunContext, index: int, output: Output) -> None:
        data = {"text": output_text(output), "output_type": output.get("output_type")}
        if output.get("name"):
            data["name"] = output["name"]
        self.write(RunEventKind.CELL_OUTPUT, data, index)

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        self.write(RunEventKind.CELL_DECIDED, {"decision": decision.value, "by": by}, index)

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        data = {"status": event.status.value, "duration": event.duration, "error": event.error}
        self.write(RunEventKind.CELL_FINISHED, data, index)

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        # Written whatever the lease says: a follower must learn that the stream ended.
        self.write(
            RunEventKind.RUN_FINISHED,
            {"state": state.value, "message": ctx.masker.mask(message) if message else None},
            fenced=False,
        )

    def write(
        self,
        kind: RunEventKind,
        data: dict[str, Any],
        cell: int | None = None,
        *,
        fenced: bool = True,
    ) -> None:
        """Append one event (masked) to the run's stream, unless the store was lost."""
        ctx = self._ctx
        if ctx is None or (self.lost is not None and fenced):
            return
        masked = ctx.masker.mask_data(data)
        run_id, epoch = ctx.run.id, ctx.run.lease_epoch

        def guard(session: Session) -> None:
            heartbeat(session, run_id, epoch)

        try:
            retrying(
                self._sessions,
                lambda session: append_run_event(session, run_id, kind, masked, cell),
                budget=self._budget,
                guard=guard if fenced else None,
            )
        except StoreError as error:
            self.lost = error


def stream_events(
    sessions: sessionmaker[Session], run_id: str, after: int = 0
) -> Iterator[RunEvent]:
    """:func:`follow`, once the run is seen to exist: UnknownRunError now, not mid-stream."""
    with sessions() as session:
        get_run(session, run_id)
    return follow(sessions, run_id, after)


def follow(
    sessions: sessionmaker[Session], run_id: str, after: int = 0, *, poll: float = FOLLOW_POLL
) -> Iterator[RunEvent]:
    """The run's events after sequence ``after``, waiting for new ones until it finished.

    Ends after the ``run.finished`` event, or when the run is over with nothing more to
    read (it was marked interrupted: its process died before telling).
    """
    seen = after
    while True:
        batch = wait_for(sessions, functools.partial(_next, run_id=run_id, after=seen), poll=poll)
        if batch is None:
            return
        events, finished = batch
        for event in events:
            seen = event.seq
            yield event
            if event.kind is RunEventKind.RUN_FINISHED:
                return
        if finished and not events:
            return


def _next(session: Session, run_id: str, after: int) -> tuple[list[RunEvent], bool] | None:
    events = events_after(session, run_id, after, limit=500)
    if events:
        return events, False
    run = get_run(session, run_id)
    if not run.state.finished and _lease_lapsed(run):
        # Its process died without telling: mark it interrupted, as every command that looks.
        sweep(session, always=True)
        session.commit()
        run = get_run(session, run_id)
    if not run.state.finished:
        return None
    # Its process writes run.finished just after the run's end: wait for it, unless the run
    # was marked interrupted (its process died) or ended a lease ago (died right then).
    ended = run.ended_at or datetime.now(UTC)
    if run.state is RunState.INTERRUPTED or datetime.now(UTC) - ended > timedelta(
        seconds=lease_seconds()
    ):
        late = events_after(session, run_id, after, limit=500)
        return late, not late
    return None


def _lease_lapsed(run: Run) -> bool:
    cutoff = datetime.now(UTC) - timedelta(seconds=lease_seconds())
    return owner_gone(run.lease_owner) or run.heartbeat_at is None or run.heartbeat_at < cutoff
