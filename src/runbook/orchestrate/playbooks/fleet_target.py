"""One target's steps in a playbook run: render, run, roll back, and the controls to stop them.

Shell steps are child processes on the run's event loop; runbook steps go to a thread pool
(a kernel each). The outcome is the target's final state, message and step results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from runbook.errors import SpecError
from runbook.model.playbooks.playbook import OnFailure, RunbookStep, TargetState
from runbook.model.playbooks.playbook_run import CancelMode
from runbook.model.playbooks.playbook_templates import RenderedStep, render_step
from runbook.model.playbooks.strategy import rollback_plan
from runbook.orchestrate.playbooks.fleet_steps import (
    KernelControl,
    Result,
    ShellControl,
    base_environment,
    run_shell,
    runbook_rollback,
    runbook_step,
)
from runbook.orchestrate.worker_threads import in_worker_thread

if TYPE_CHECKING:
    from runbook.orchestrate.playbooks.fleet_runner import FleetExecution


class TargetSteps:
    """Runs targets' steps for one :class:`FleetExecution`, and can interrupt them all."""

    def __init__(self, execution: FleetExecution) -> None:
        self.execution = execution
        self._shells = ShellControl()
        self._kernels: dict[str, KernelControl] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._env = base_environment(execution.run.id, execution.repository.root)

    def interrupt(self) -> None:
        """Kill every running shell step and interrupt every running kernel."""
        self._shells.kill_all()
        for control in list(self._kernels.values()):
            control.interrupt()

    def shutdown(self) -> None:
        """Wait for the step threads, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    async def run(self, name: str) -> tuple[TargetState, str | None, list[Result]]:
        """Every step of target ``name`` as the strategy says; its state, message, results."""
        execution = self.execution
        steps = execution.spec.steps
        on_failure = execution.spec.strategy.on_failure
        results: list[Result] = []
        completed: list[int] = []
        failed_at: int | None = None
        cancelled = False
        for index in range(len(steps)):
            if failed_at is not None and on_failure is not OnFailure.CONTINUE:
                break
            if execution.cancel_mode is CancelMode.INTERRUPT:
                cancelled = True
                break
            result = await self._step(name, index)
            results.append(result)
            execution.change(name, results=list(results))
            if result["status"] == "succeeded":
                completed.append(index)
            elif result["status"] == "cancelled":
                cancelled = True
                break
            elif failed_at is None:
                failed_at = index
        if cancelled:
            return TargetState.CANCELLED, "cancelled by cancel --interrupt", results
        if failed_at is None:
            return TargetState.SUCCEEDED, None, results
        failure = next(r for r in results if r["status"] == "failed")
        message = f"step {failure['step']}: {failure.get('message', 'failed')}"
        if on_failure is OnFailure.ROLLBACK:
            for undo in rollback_plan(steps, completed, failed_at):
                if undo.kind == "runbook":
                    done = next((r for r in results if r["step"] == undo.name), None)
                    results.append(runbook_rollback(done, undo.name, undo.index == failed_at))
                else:
                    results.append(await self._shell_rollback(name, undo.index))
                execution.change(name, results=list(results))
            undone = [r for r in results if r.get("phase") == "rollback"]
            if undone:
                bad = [r["step"] for r in undone if r["status"] != "succeeded"]
                message += "; rolled back" + (f" except {', '.join(bad)}" if bad else "")
        return TargetState.FAILED, message, results

    async def _step(self, name: str, index: int) -> Result:
        execution = self.execution
        step = execution.spec.steps[index]
        try:
            rendered = render_step(step, execution.records[name].target, execution.run.parameters)
        except SpecError as error:
            kind = "runbook" if isinstance(step, RunbookStep) else "shell"
            return {"step": step.name, "kind": kind, "status": "failed", "message": str(error)}
        if rendered.kind == "shell":
            return await self._shell(name, rendered, rendered.argv)
        control = KernelControl()
        self._kernels[name] = control
        try:
            return await self._in_thread(
                lambda: runbook_step(
                    execution.sessions,
                    execution.repository,
                    rendered,
                    user=execution.run.started_by,
                    yes=execution.yes,
                    rollback=execution.spec.strategy.on_failure is OnFailure.ROLLBACK,
                    control=control,
                    playbook=execution.spec.name,
                    cover=execution.run.plan_id,
                )
            )
        finally:
            self._kernels.pop(name, None)

    async def _shell_rollback(self, name: str, index: int) -> Result:
        execution = self.execution
        step = execution.spec.steps[index]
        rendered = render_step(step, execution.records[name].target, execution.run.parameters)
        argv = rendered.rollback_argv or []
        return {**await self._shell(name, rendered, argv), "phase": "rollback"}

    async def _shell(self, name: str, rendered: RenderedStep, argv: list[str]) -> Result:
        record = self.execution.records[name]
        env = {**self._env, "RUNBOOK_TARGET": name, "RUNBOOK_TARGET_ADDRESS": record.address}
        root = self.execution.repository.root
        return await run_shell(name, rendered, argv, cwd=root, env=env, control=self._shells)

    async def _in_thread(self, work: Callable[[], Result]) -> Result:
        if self._pool is None:
            workers = self.execution.spec.strategy.concurrency
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="playbook-step")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, in_worker_thread, work)
