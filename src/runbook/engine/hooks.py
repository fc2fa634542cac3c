"""The engine's extension points: an operator who decides at gates, and observers.

The cell loop (``executor.py``) knows nothing of terminals, stores or files: it asks the
:class:`Operator` at every gate and tells every :class:`RunObserver` what happened. Saving the
notebook after every cell, recording cell events and audit entries, and writing the log that
``runbook log --follow`` reads are each one observer here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import StoreError
from runbook.masking import SecretMasker
from runbook.model.audit import EventKind, run_subject
from runbook.model.cells import cell_label
from runbook.model.files import notebook_json, write_atomic
from runbook.model.run import CellEvent, Decision, Run, RunState
from runbook.store.audit import append_event
from runbook.store.retry import retrying
from runbook.store.runs import add_cell_event, finish_run, heartbeat
from runbook.typing import Cell, Notebook, Output


class RunSignal(BaseException):
    """Control flow out of the cell loop; not an error, so ``except Exception`` never eats it."""


class StopRun(RunSignal):
    """End the run now in ``state`` with ``message`` (abort, rollback done, refusal).

    Raised by an operator at a gate, or by an observer that cannot go on (the store stopped
    taking the run's records).
    """

    def __init__(self, state: RunState, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


class Operator(Protocol):
    """Who decides at the gates of a run: a person at a terminal, or flags standing in."""

    @property
    def name(self) -> str:
        """The identity recorded with each decision."""
        ...

    def confirm(self, index: int, cell: Cell) -> Decision:
        """Before a ``confirm`` cell: YES, SKIP, ABORT or ROLLBACK."""
        ...

    def acknowledge(self, index: int, cell: Cell) -> Decision:
        """At a ``manual`` step: ACKNOWLEDGED, SKIP, ABORT or ROLLBACK."""
        ...

    def on_failure(self, index: int, cell: Cell, error: str) -> Decision:
        """After a failing cell: RETRY, SKIP, ABORT (the run fails) or ROLLBACK."""
        ...

    @property
    def recovery_by(self) -> str:
        """Who the choice after a failing or interrupted cell is recorded as made by: the
        person asked, or :data:`~runbook.model.run.AUTOMATIC_DECIDER` when a rule chose."""
        ...

    def on_interrupt(self, index: int, cell: Cell) -> Decision:
        """After Ctrl-C interrupted a cell: RETRY, SKIP, ABORT or ROLLBACK."""
        ...


@dataclass
class RunContext:
    """What every observer may look at: the run, the notebook as executed so far, the masker."""

    run: Run
    notebook: Notebook
    repo_root: Path
    masker: SecretMasker = field(default_factory=SecretMasker)
    dry_run: bool = False
    #: The OS user the kernel runs as (``[kernel] user``); empty for ours.
    kernel_user: str = ""
    #: The kernel's working directory (the plan's, see ``model.working_dir``); the root if None.
    cwd: Path | None = None

    @property
    def notebook_file(self) -> Path:
        """Where the executed notebook is saved."""
        return self.repo_root / self.run.notebook_path

    @property
    def working_dir(self) -> Path:
        """Where the kernel runs."""
        return self.cwd if self.cwd is not None else self.repo_root


class RunObserver:
    """Base observer: every method does nothing; subclasses override what they need."""

    def run_started(self, ctx: RunContext) -> None:
        """The kernel is up and the first cell is about to be considered."""

    def interruptible(self, ctx: RunContext, interrupt: Callable[[], None]) -> None:
        """Told once, before the first cell: ``interrupt`` (callable from any thread)
        interrupts the cell executing then, as Ctrl-C does; between cells it does nothing."""

    def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
        """A code cell is about to execute (also on retries)."""

    def cell_output(self, ctx: RunContext, index: int, output: Output) -> None:
        """A (masked) output arrived from the kernel while the cell runs."""

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        """Someone decided at a gate."""

    def cell_previewed(self, ctx: RunContext, index: int, cell: Cell, note: str) -> None:
        """A dry run reached a confirm cell: show what it would do; ``note`` says whether it
        is executed with the helpers announcing, or not at all."""

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        """A cell is done with: executed, failed, skipped or shown."""

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        """The run ended in ``state``; the kernel is shut down."""


class AutosaveObserver(RunObserver):
    """Saves the masked executed notebook as the run goes, at a bounded cost.

    Rewriting the whole notebook after every cell costs more the longer the notebook is (a
    1,000-cell run spent most of its time saving), so a save after a cell is put off while
    saving would take more than ``share`` of the time since the last one, for at most
    ``most_stale`` seconds: a timer saves then, also while a cell runs on. The cell log
    (``log.jsonl``) and the store are the durable record of every cell; the notebook is
    saved at the start and, synced, at the end.
    """

    def __init__(self, share: float = 0.1, most_stale: float = 1.0) -> None:
        self._share = share
        self._most_stale = most_stale
        self._next_save = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def run_started(self, ctx: RunContext) -> None:
        self._save(ctx, durable=False)

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        if time.monotonic() >= self._next_save:
            self._save(ctx, durable=False)
        elif self._timer is None:
            delay = self._next_save - time.monotonic()
            self._timer = asyncio.get_running_loop().call_later(delay, self._save, ctx, False)

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        self._save(ctx, durable=True)

    def _save(self, ctx: RunContext, durable: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        started = time.monotonic()
        ctx.masker.mask_notebook(ctx.notebook)
        # Atomic; synced only at the end: a killed run keeps what was saved, and only a
        # power cut mid-run could lose more.
        write_atomic(ctx.notebook_file, notebook_json(ctx.notebook), durable=durable)
        ended = time.monotonic()
        self._next_save = ended + min((ended - started) / self._share, self._most_stale)


class RecordObserver(RunObserver):
    """Records cell events and audit entries in the store, each in its own transaction.

    A write that fails for a transient reason (a dropped connection) is tried again for up
    to ``budget`` seconds, each retry first renewing the run's lease at its epoch (refused
    when the run was marked interrupted meanwhile). When the store stays unreachable, or
    refuses the run, the run stops ``interrupted`` (:class:`StopRun`) and ``lost`` says
    why: nothing more is written, and the next sweep marks its record interrupted.
    """

    def __init__(self, sessions: sessionmaker[Session], budget: float = 30.0) -> None:
        self._sessions = sessions
        self._budget = budget
        self.lost: StoreError | None = None

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        payload = {
            "cell": index,
            "decision": decision.value,
            "tags": list(cell.metadata.get("tags", [])),
        }

        def write(session: Session) -> None:
            append_event(
                session,
                kind=EventKind.CELL_DECIDED,
                actor=by,
                subject=run_subject(ctx.run.id),
                payload=payload,
            )

        self._record(ctx, write, f"at the gate of {cell_label(index)}")

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        def write(session: Session) -> None:
            add_cell_event(session, event)
            append_event(
                session,
                kind=EventKind.CELL_FINISHED,
                actor=ctx.run.executor,
                subject=run_subject(ctx.run.id),
                payload={
                    "cell": index,
                    "status": event.status.value,
                    "duration": event.duration,
                    "error": event.error,
                },
            )

        self._record(ctx, write, f"after {cell_label(index)}")

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        if self.lost is not None:
            return  # the store refused or lost the run: the sweep records it interrupted
        shown = ctx.masker.mask(message) if message else None

        def write(session: Session) -> None:
            finish_run(session, ctx.run.id, ctx.run.lease_epoch, state, shown)
            append_event(
                session,
                kind=EventKind.RUN_FINISHED,
                actor=ctx.run.executor,
                subject=run_subject(ctx.run.id),
                payload={"state": state.value, "message": shown},
            )

        try:
            self._write(ctx, write)
        except StoreError as error:
            self.lost = error  # the run is over: the caller reports it

    def _record(self, ctx: RunContext, write: Callable[[Session], None], where: str) -> None:
        if self.lost is not None:
            return
        try:
            self._write(ctx, write)
        except StoreError as error:
            self.lost = error
            reason = error.message.removeprefix("store: ")
            raise StopRun(
                RunState.INTERRUPTED, f"stopped {where}: the store cannot record it: {reason}"
            ) from None

    def _write(self, ctx: RunContext, write: Callable[[Session], None]) -> None:
        def guard(session: Session) -> None:
            heartbeat(session, ctx.run.id, ctx.run.lease_epoch)

        retrying(self._sessions, write, budget=self._budget, guard=guard)


class LogObserver(RunObserver):
    """Appends one JSON line per event to ``runs/<run>/log.jsonl`` for ``runbook log``.

    Each line is flushed as written, so ``runbook log --follow`` in another terminal sees it.
    """

    def __init__(self) -> None:
        self._stream: IO[str] | None = None

    def run_started(self, ctx: RunContext) -> None:
        self._write(
            ctx,
            "run.started",
            executor=ctx.run.executor,
            mode=ctx.run.mode.value,
            plan=ctx.run.plan_id,
        )

    def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
        self._write(ctx, "cell.started", cell=index, tags=list(cell.metadata.get("tags", [])))

    def cell_output(self, ctx: RunContext, index: int, output: Output) -> None:
        self._write(ctx, "cell.output", cell=index, text=output_text(output))

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        self._write(ctx, "cell.decided", cell=index, decision=decision.value, by=by)

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        self._write(
            ctx,
            "cell.finished",
            cell=index,
            status=event.status.value,
            duration=event.duration,
            error=event.error,
        )

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        self._write(
            ctx,
            "run.finished",
            state=state.value,
            message=ctx.masker.mask(message) if message else None,
        )
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _write(self, ctx: RunContext, kind: str, **fields: Any) -> None:
        if self._stream is None:
            path = ctx.notebook_file.parent / "log.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("a", encoding="utf-8")
        record = {"at": datetime.now(UTC).isoformat(), "kind": kind, **fields}
        self._stream.write(json.dumps(ctx.masker.mask_data(record), ensure_ascii=False) + "\n")
        self._stream.flush()


def output_text(output: Output) -> str:
    """The human-readable text of one output: stream text, plain data, or the error."""
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    if "text/plain" in data:
        return str(data["text/plain"])
    return f"[{', '.join(sorted(data))}]" if data else ""
