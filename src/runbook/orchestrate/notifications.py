"""Notifying people of a run as it goes: start, gate decisions, failure and end.

Messages go out on one worker thread, in order, so a slow webhook never stalls the cell loop;
the run waits for them only once it has ended. A notification that cannot be sent becomes a
warning, never a failed run.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from runbook.engine.hooks import RunContext, RunObserver
from runbook.errors import RunbookError
from runbook.model.cells import cell_label
from runbook.model.run import Decision, RunState
from runbook.typing import Cell

_LEVELS = {
    RunState.SUCCEEDED: "success",
    RunState.FAILED: "failure",
    RunState.ABORTED: "warning",
    RunState.ROLLED_BACK: "warning",
    RunState.INTERRUPTED: "failure",
}


class NotifyObserver(RunObserver):
    """Sends the configured run events to apprise URLs (``[notify]`` in runbook.toml)."""

    def __init__(self, urls: Sequence[str], events: Sequence[str]) -> None:
        self._urls = list(urls)
        self._events = set(events)
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
        self._sent: list[Future[None]] = []
        self.warnings: list[str] = []

    def run_started(self, ctx: RunContext) -> None:
        self._send(
            ctx,
            "run.started",
            f"{ctx.run.executor} started run {ctx.run.id} of plan "
            f"{ctx.run.plan_id} ({ctx.run.mode.value})",
            "info",
        )

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        self._send(
            ctx,
            "cell.decided",
            f"run {ctx.run.id}: {by} answered {decision.value} at {cell_label(index)}",
            "info",
        )

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        detail = f": {message}" if message else ""
        if state is RunState.FAILED:
            self._send(ctx, "run.failed", f"run {ctx.run.id} failed{detail}", "failure")
        self._send(
            ctx,
            "run.finished",
            f"run {ctx.run.id} of plan {ctx.run.plan_id} {state.value}{detail}",
            _LEVELS.get(state, "info"),
        )
        self._sender.shutdown(wait=True)

    def _send(self, ctx: RunContext, event: str, text: str, level: str) -> None:
        if event in self._events:
            self._sent.append(self._sender.submit(self._deliver, ctx.masker.mask(text), level))

    def _deliver(self, text: str, level: str) -> None:
        from runbook.notify import notify  # the one notification path, shared with notebooks

        try:
            if not notify(text, title="runbook", urls=self._urls, level=level):
                self.warnings.append(f"notification not accepted: {text[:60]}")
        except (RunbookError, ValueError, OSError) as error:
            self.warnings.append(f"notification failed: {error}")
