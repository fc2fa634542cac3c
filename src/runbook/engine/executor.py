"""The cell loop: one planned notebook, cell by cell, in a real kernel, with gates.

Markdown is shown; ``manual`` steps wait for an acknowledgement; ``confirm`` cells run only on
an explicit yes (never in a dry run); ``rollback`` cells run only when rolling back; a failing
or interrupted cell asks the operator what next. Everything that happens is told to the
observers, which save, record and display it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from runbook.engine.cell_failures import Failure as _Failure
from runbook.engine.cell_failures import clean_exit as _clean_exit
from runbook.engine.cell_failures import exit_message as _exit_message
from runbook.engine.cell_failures import timed_out as _timed_out
from runbook.engine.cell_rules import dry_run_step, rebuildable
from runbook.engine.hooks import Operator, RunContext, RunObserver, RunSignal, StopRun
from runbook.engine.kernel import StreamingClient
from runbook.engine.kernel_output import forward_kernel_output
from runbook.engine.launch import (
    async_launch_kernel,
    kernel_environment,
    kernel_folder,
    kernel_name,
    remove_sockets,
)
from runbook.model.cells import cell_label
from runbook.model.injection import cell_tags
from runbook.model.repository import STATE_FOLDER
from runbook.model.run import CellEvent, CellStatus, Decision, RunState
from runbook.terminal import terminal_safe
from runbook.typing import Cell, Output

__all__ = ["Outcome", "RunSignal", "StopRun", "async_execute_run", "execute_run"]

#: Who a dry run's choices at confirm cells are recorded as made by.
DRY_RUN = "dry-run"


@dataclass(frozen=True)
class Outcome:
    """How a run ended."""

    state: RunState
    message: str | None = None


async def async_execute_run(
    ctx: RunContext,
    *,
    operator: Operator,
    observers: Sequence[RunObserver],
    start_cell: int = 0,
    rebuild: bool = True,
    cell_timeout: float | None = None,
    kernel_manager: Any = None,
) -> Outcome:
    """Execute ``ctx.notebook`` from ``start_cell`` and return how it ended.

    Cells before ``start_cell`` are re-executed to rebuild the kernel's state when
    ``rebuild`` (except confirm, rollback, manual and mutative-looking cells), else skipped.
    ``kernel_manager`` is a kernel launched earlier (``launch.launch_kernel``); without one,
    the notebook's kernel is launched here. Either way it is shut down at the end.
    """
    loop = _CellLoop(ctx, operator, observers)
    env = getattr(kernel_manager, "runbook_env", None) or kernel_environment(
        run_id=ctx.run.id, plan_id=ctx.run.plan_id, repo_root=ctx.repo_root, dry_run=ctx.dry_run
    )
    if kernel_manager is None:
        try:
            kernel_manager = await async_launch_kernel(
                kernel_name(ctx.notebook),
                env=env,
                cwd=ctx.working_dir,
                folder=kernel_folder(ctx.repo_root / STATE_FOLDER, ctx.run.id),
                user=ctx.kernel_user,
            )
        except Exception as error:  # no such kernelspec, or it cannot be executed
            outcome = Outcome(RunState.FAILED, f"the kernel could not start: {error}")
            loop.tell(lambda o: o.run_finished(ctx, outcome.state, outcome.message))
            return outcome
    client = StreamingClient(
        ctx.notebook,
        masker=ctx.masker,
        on_output=loop.output,
        kernel_name=kernel_name(ctx.notebook),
        cell_timeout=cell_timeout,
        record_timing=True,
        allow_errors=False,
        resources={"metadata": {"path": str(ctx.working_dir)}},
        km=kernel_manager,
    )
    loop.client = client
    drain = forward_kernel_output(kernel_manager, ctx.masker, _write_stderr)
    try:
        async with client.async_setup_kernel(env=env, cleanup_kc=True):
            loop.tell(lambda o: o.run_started(ctx))
            aio = asyncio.get_running_loop()

            def interrupt() -> None:
                aio.call_soon_threadsafe(loop.interrupt)

            loop.tell(lambda o: o.interruptible(ctx, interrupt))
            outcome = await loop.run(start_cell, rebuild)
    except StopRun as stop:
        outcome = Outcome(stop.state, stop.message)
    except DeadKernelError as error:
        outcome = Outcome(RunState.FAILED, f"the kernel died: {error}")
    except RuntimeError as error:
        outcome = Outcome(RunState.FAILED, f"the kernel could not start: {error}")
    finally:
        remove_sockets(kernel_manager)
        drain()
    loop.tell(lambda o: o.run_finished(ctx, outcome.state, outcome.message))
    return outcome


#: The same, for callers without an event loop.
execute_run = run_sync(async_execute_run)


class _CellLoop:
    def __init__(
        self, ctx: RunContext, operator: Operator, observers: Sequence[RunObserver]
    ) -> None:
        self.ctx = ctx
        self.operator = operator
        self.observers = observers
        self.client: StreamingClient | None = None
        self.interrupted = False
        self.executing = False
        # Interrupt requests in flight: kept so they are not garbage-collected mid-way.
        self._pending: set[asyncio.Future[Any]] = set()

    def tell(self, event: Callable[[RunObserver], None]) -> None:
        # An observer may end the run (the store stopped taking its records): the others
        # still hear of the event (the notebook is saved, the console shows the cell).
        stop: StopRun | None = None
        for observer in self.observers:
            try:
                event(observer)
            except StopRun as raised:
                stop = stop or raised
        if stop is not None:
            raise stop

    def output(self, index: int, output: Output) -> None:
        self.tell(lambda o: o.cell_output(self.ctx, index, output))

    async def run(self, start_cell: int, rebuild: bool) -> Outcome:
        cells = self.ctx.notebook.cells
        try:
            for index, cell in enumerate(cells):
                if index < start_cell:
                    await self._before_start(index, cell, rebuild)
                else:
                    await self._step(index, cell)
        except StopRun as stop:
            return Outcome(stop.state, stop.message)
        return Outcome(RunState.SUCCEEDED, None)

    async def _before_start(self, index: int, cell: Cell, rebuild: bool) -> None:
        if rebuild and cell.cell_type == "code" and rebuildable(cell):
            await self._execute_or_fail(
                index, cell, by="rebuild (--from)", on_exit=RunState.SUCCEEDED
            )
        else:
            self._finish(index, cell, CellStatus.SKIPPED, by="before --from")

    async def _step(self, index: int, cell: Cell) -> None:
        tags = set(cell_tags(cell))
        if "manual" in tags:
            answer = await self._gate(index, cell, self.operator.acknowledge)
            status = CellStatus.SHOWN if answer is Decision.ACKNOWLEDGED else CellStatus.SKIPPED
            self._finish(index, cell, status, decision=answer, by=self.operator.name)
            return
        if cell.cell_type != "code":
            self._finish(index, cell, CellStatus.SHOWN)
            return
        if tags & {"rollback", "skip-execution"}:
            self._finish(index, cell, CellStatus.SKIPPED)
            return
        decision: Decision | None = None
        by: str | None = None
        if "confirm" in tags:
            if self.ctx.dry_run:
                await self._dry_run(index, cell)
                return
            decision = await self._gate(index, cell, self.operator.confirm)
            by = self.operator.name
            if decision is Decision.SKIP:
                self._finish(index, cell, CellStatus.SKIPPED, decision=decision, by=by)
                return
        await self._execute_with_recovery(index, cell, decision, by)

    async def _gate(self, index: int, cell: Cell, ask: Callable[[int, Cell], Decision]) -> Decision:
        """Ask at a gate; ABORT and ROLLBACK end the loop here."""
        decision = ask(index, cell)
        self._decide(index, cell, decision, self.operator.name)
        if decision is Decision.ABORT:
            raise StopRun(
                RunState.ABORTED, f"aborted by {self.operator.name} at {cell_label(index)}"
            )
        if decision is Decision.ROLLBACK:
            await self._rollback(index)
        return decision

    async def _dry_run(self, index: int, cell: Cell) -> None:
        """A confirm cell in a dry run: shown with the plan's values, then skipped, or
        executed with the helpers only announcing (``cell_rules.dry_run_step``)."""
        step = dry_run_step(self.ctx.notebook, cell)
        self.tell(lambda o: o.cell_previewed(self.ctx, index, cell, step.note))
        if step.execute:
            await self._execute_or_fail(index, cell, by=DRY_RUN, on_exit=RunState.SUCCEEDED)
            return
        self._decide(index, cell, Decision.SKIP, DRY_RUN)
        self._finish(index, cell, CellStatus.SKIPPED, decision=Decision.SKIP, by=DRY_RUN)

    def _decide(self, index: int, cell: Cell, decision: Decision, by: str) -> None:
        self.tell(lambda o: o.decided(self.ctx, index, cell, decision, by))

    async def _execute_with_recovery(
        self, index: int, cell: Cell, decision: Decision | None, by: str | None
    ) -> None:
        while True:
            started = datetime.now(UTC)
            failure = await self._execute(index, cell)
            if failure is None:
                self._finish(
                    index, cell, CellStatus.SUCCEEDED, decision=decision, by=by, started=started
                )
                return
            if failure.exit:
                self._finish(
                    index, cell, CellStatus.EXITED, decision=decision, by=by, started=started
                )
                raise StopRun(RunState.SUCCEEDED, _exit_message(index, failure))
            interrupted, self.interrupted = self.interrupted, False
            self._finish(
                index,
                cell,
                CellStatus.INTERRUPTED if interrupted else CellStatus.FAILED,
                decision=decision,
                by=by,
                started=started,
                error=failure.text,
            )
            if failure.stuck:  # nothing more can run in this kernel: no one to ask
                raise StopRun(RunState.FAILED, f"{cell_label(index)} {failure.ending()}")
            if interrupted:
                choice = self.operator.on_interrupt(index, cell)
            else:
                choice = self.operator.on_failure(index, cell, failure.text)
            # Recorded as made by whoever made it: a person, or a rule with nobody asked.
            self._decide(index, cell, choice, self.operator.recovery_by)
            if choice is Decision.SKIP:
                return
            if choice is Decision.ROLLBACK:
                await self._rollback(index)
            if choice is not Decision.RETRY:
                state = RunState.ABORTED if interrupted else RunState.FAILED
                what = "interrupted" if interrupted else failure.ending()
                raise StopRun(state, f"{cell_label(index)} {what}")

    async def _execute(self, index: int, cell: Cell) -> _Failure | None:
        """Run one code cell; how it failed, or None when it succeeded."""
        client = self.client
        if client is None:
            raise RuntimeError("the cell loop has no kernel client")
        self.tell(lambda o: o.cell_started(self.ctx, index, cell))
        loop = asyncio.get_running_loop()
        handled = _catch_sigint(loop, self._interrupt)
        self.executing = True
        try:
            await client.async_execute_cell(cell, index, store_history=True)
        except CellExecutionError as error:
            if client.timed_out is not None:
                return _timed_out(client.timed_out)
            # Masked here, once: every observer and the operator's prompt show this text.
            text = self.ctx.masker.mask(f"{error.ename}: {error.evalue}")
            return _Failure(text, exit=_clean_exit(error.ename, error.evalue))
        except CellTimeoutError:
            return _timed_out(client.timed_out or 0, stuck=True)
        finally:
            self.executing = False
            client.flush_streams(cell, index)
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
        # A cell that caught the interrupt its timeout sent still ran past its time.
        return _timed_out(client.timed_out) if client.timed_out is not None else None

    async def _execute_or_fail(self, index: int, cell: Cell, by: str, on_exit: RunState) -> None:
        started = datetime.now(UTC)
        failure = await self._execute(index, cell)
        if failure is not None and failure.exit:
            self._finish(index, cell, CellStatus.EXITED, by=by, started=started)
            raise StopRun(on_exit, _exit_message(index, failure))
        status = CellStatus.SUCCEEDED if failure is None else CellStatus.FAILED
        error = failure.text if failure is not None else None
        self._finish(index, cell, status, by=by, started=started, error=error)
        if failure is not None and failure.timed_out:
            raise StopRun(RunState.FAILED, f"{cell_label(index)} {failure.ending()} while {by}")
        if failure is not None:
            raise StopRun(RunState.FAILED, f"{cell_label(index)} failed while {by}: {failure.text}")

    def interrupt(self) -> None:
        """Interrupt the cell executing now, if one is (a request from elsewhere)."""
        if self.executing:
            self._interrupt()

    def _interrupt(self) -> None:
        self.interrupted = True
        if self.client is not None and self.client.km is not None:
            self._pending.add(
                asyncio.ensure_future(ensure_async(self.client.km.interrupt_kernel()))
            )

    async def _rollback(self, after: int) -> NoReturn:
        """Run every rollback cell in order, then end the run rolled back."""
        for index, cell in enumerate(self.ctx.notebook.cells):
            if cell.cell_type == "code" and "rollback" in cell_tags(cell):
                await self._execute_or_fail(
                    index, cell, by="rollback", on_exit=RunState.ROLLED_BACK
                )
        raise StopRun(RunState.ROLLED_BACK, f"rolled back after {cell_label(after)}")

    def _finish(
        self,
        index: int,
        cell: Cell,
        status: CellStatus,
        *,
        decision: Decision | None = None,
        by: str | None = None,
        started: datetime | None = None,
        error: str | None = None,
    ) -> None:
        event = CellEvent(
            run_id=self.ctx.run.id,
            cell_index=index,
            cell_type=cell.cell_type,
            status=status,
            tags=tuple(cell_tags(cell)),
            cell_id=cell.get("id"),
            decision=decision,
            decided_by=by,
            started_at=started,
            ended_at=datetime.now(UTC) if started else None,
            error=error,
        )
        self.tell(lambda o: o.cell_finished(self.ctx, index, cell, event))


def _write_stderr(text: str) -> None:
    # What the kernel's children wrote goes to the operator's terminal: colours only.
    sys.stderr.write(terminal_safe(text))
    sys.stderr.flush()


def _catch_sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> bool:
    """Route Ctrl-C to a kernel interrupt while a cell runs; False where that is impossible."""
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return False  # not the main thread, or no signal support: Ctrl-C stays default
    return True
