"""Driving one playbook run: batches in order, a bounded number of targets at once, drift.

Everything happens on one asyncio event loop: shell steps are child processes it watches,
runbook steps go to a thread pool (a kernel each). Target records change in memory first
(what listeners see at once) and reach the store in batched transactions a few times a
second, at the end of every batch and at the end of the run; a cancel request is read from
the store between target starts and about every second.

The rules (also in :mod:`runbook.model.strategy` and ``runbook playbook run --help``):

- batches come from ``strategy.batch_size`` over the targets known at start, and run one
  after the other; within a batch at most ``concurrency`` targets run at once, started in
  inventory order;
- once more targets have FAILED than ``max_failures`` allows, no new target starts; those
  running finish; every target still waiting becomes SKIPPED;
- before every batch after the first, and once after the last, the inventory is read again:
  new names are recorded ADDED (and, with ``added_targets: later``, run in batches of the
  last planned size after the planned ones); names that vanished before starting become
  REMOVED, and those already started or done keep their state with ``removed`` set;
- a cancel request stops new starts; with ``interrupt`` running steps are killed too; the
  targets it stopped or that were waiting become CANCELLED.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from runbook.egress import policy_from_config
from runbook.errors import ConfigError, DataSourceError, SpecError
from runbook.model.playbook import (
    AddedTargets,
    OnFailure,
    PlaybookSpec,
    RunbookStep,
    StaticInventory,
    TargetState,
)
from runbook.model.playbook_run import CancelMode, PlaybookRun, TargetRecord
from runbook.model.playbook_templates import RenderedStep, render_step
from runbook.model.strategy import (
    batch_sizes,
    exceeds,
    failure_limit,
    inventory_drift,
    rollback_plan,
    split_batches,
)
from runbook.orchestrate.fleet_steps import (
    KernelControl,
    Result,
    ShellControl,
    base_environment,
    in_worker_thread,
    run_shell,
    runbook_rollback,
    runbook_step,
)
from runbook.orchestrate.inventory import read_inventory
from runbook.store.playbooks import add_targets, cancel_request, update_targets
from runbook.store.target_locks import lock_targets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from runbook.model.repository import Repository

FLUSH_INTERVAL: Final = 0.25
CANCEL_POLL: Final = 1.0
#: Between target starts the store is asked about a cancel at most this often.
START_POLL: Final = 0.2

_WAITING: Final = (TargetState.PENDING, TargetState.ADDED)


def assign_batches(spec: PlaybookSpec, names: list[str]) -> dict[str, int]:
    """The batch (1-based) of each of ``names``, the targets known when the run starts."""
    batches = split_batches(names, list(spec.strategy.batch_size))
    return {name: number for number, batch in enumerate(batches, 1) for name in batch}


def repeated_batch_size(spec: PlaybookSpec, total: int) -> int:
    """The size the last ``batch_size`` entry gives: targets added later run in such batches."""
    return batch_sizes([spec.strategy.batch_size[-1]], max(total, 1))[0]


class FleetListener:
    """Told about a playbook run as it happens (from the thread driving it). Override any."""

    def run_started(self, run: PlaybookRun, targets: list[TargetRecord]) -> None:
        """The run is recorded and its targets are PENDING."""

    def target_changed(self, record: TargetRecord) -> None:
        """A target's record changed (state, batch, results, drift flags)."""

    def run_finished(self, run: PlaybookRun) -> None:
        """The run ended; ``run`` is its final record."""


class FleetExecution:
    """One playbook run in progress: its targets' records and the loop that moves them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        repository: Repository,
        run: PlaybookRun,
        spec: PlaybookSpec,
        targets: list[TargetRecord],
        *,
        yes: bool,
        listener: FleetListener,
        watch_inventory: bool,
    ) -> None:
        self.sessions = sessions
        self.repository = repository
        self.run = run
        self.spec = spec
        self.yes = yes
        self.listener = listener
        self.watch_inventory = watch_inventory and not isinstance(spec.inventory, StaticInventory)
        self.records: dict[str, TargetRecord] = {t.name: t for t in targets}
        self.failed = 0
        self.limit = failure_limit(spec.strategy.max_failures, len(targets))
        self.later_size = repeated_batch_size(spec, len(targets))
        self.stopped_by_failures = False
        self.cancel_mode: CancelMode | None = None
        self.warnings: list[str] = []
        self._pending: dict[str, dict[str, Any]] = defaultdict(dict)
        self._seq = 0
        self._last_poll = 0.0
        self._shells = ShellControl()
        self._kernels: dict[str, KernelControl] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._env = base_environment(run.id, repository.root)
        self._wake = asyncio.Event()

    # -- entry point --------------------------------------------------------------------------

    def execute(self) -> None:
        """Run every batch to the end (or to a stop), leaving the records flushed."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        catch = threading.current_thread() is threading.main_thread()
        if catch:
            # Ctrl-C cancels like `cancel --interrupt`: the run still ends with its records.
            loop.add_signal_handler(signal.SIGINT, self._cancel, CancelMode.INTERRUPT)
        flusher = asyncio.create_task(self._flush_loop())
        try:
            await self._drive()
        finally:
            flusher.cancel()
            if catch:
                loop.remove_signal_handler(signal.SIGINT)
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self.flush()

    async def _drive(self) -> None:
        strategy = self.spec.strategy
        waiting = [r for r in self.records.values() if r.state in _WAITING and r.batch]
        waiting.sort(key=lambda record: record.position)
        numbers = sorted({record.batch for record in waiting if record.batch is not None})
        batches = [[r.name for r in waiting if r.batch == number] for number in numbers]
        index = 0
        while index < len(batches) and not self.stopping:
            if index > 0 and not await self._pause(strategy.pause_between_batches):
                break
            if index > 0:
                await self._reread(batches)
            await self._run_batch(batches[index])
            index += 1
            if index == len(batches) and not self.stopping:
                await self._reread(batches)  # drift during the last batch is recorded too
        self._conclude()

    # -- batches ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """No new target may start: too many failures, or a cancel."""
        return self.stopped_by_failures or self.cancel_mode is not None

    async def _run_batch(self, names: list[str]) -> None:
        slots = asyncio.Semaphore(self.spec.strategy.concurrency)
        running: set[asyncio.Task[None]] = set()
        for name in names:
            await slots.acquire()
            self._poll_cancel(throttle=START_POLL)
            record = self.records[name]
            if self.stopping or record.state not in _WAITING:
                slots.release()
                if self.stopping:
                    break
                continue
            self._seq += 1
            self._change(
                name,
                state=TargetState.RUNNING,
                start_seq=self._seq,
                started_at=datetime.now(UTC),
                attempts=record.attempts + 1,
            )
            task = asyncio.create_task(self._run_target(name))
            task.add_done_callback(lambda _: slots.release())
            running.add(task)
        if running:
            await asyncio.gather(*running)
        self.flush()

    async def _pause(self, seconds: float) -> bool:
        """Wait between batches; False when a cancel came meanwhile."""
        self.flush()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.stopping:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(left, CANCEL_POLL))
            except TimeoutError:
                self._poll_cancel()
        return not self.stopping

    async def _reread(self, batches: list[list[str]]) -> None:
        if not self.watch_inventory:
            return
        batch = len(batches) + 1
        policy = policy_from_config(repo_root=self.repository.root)
        try:
            current = await asyncio.to_thread(
                read_inventory, self.spec.inventory, self.repository.root, policy
            )
        except (ConfigError, DataSourceError) as error:
            self.warnings.append(f"the inventory could not be read again: {error}")
            return
        added, removed = inventory_drift(self.records, current)
        for name in removed:
            record = self.records[name]
            if record.removed:
                continue
            if record.state in _WAITING:
                note = "left the inventory before it started"
                self._change(name, state=TargetState.REMOVED, removed=True, message=note)
            else:
                self._change(name, removed=True)
        if not added:
            return
        later = self.spec.strategy.added_targets is AddedTargets.LATER
        position = max(record.position for record in self.records.values()) + 1
        fresh = [
            TargetRecord(
                run_id=self.run.id,
                name=target.name,
                address=target.address,
                vars=dict(target.vars),
                state=TargetState.ADDED,
                position=position + offset,
                added=True,
                message=None if later else "joined the inventory during the run; not run",
            )
            for offset, target in enumerate(added)
        ]
        self.flush()
        with self.sessions.begin() as session:
            add_targets(session, fresh)
        for record in fresh:
            self.records[record.name] = record
            self.listener.target_changed(record)
        if not later:
            return
        runnable = [record.name for record in fresh if self._lock_added(record.name)]
        for start in range(0, len(runnable), self.later_size):
            chunk = runnable[start : start + self.later_size]
            batches.append(chunk)
            for name in chunk:
                self._change(name, batch=batch)
            batch += 1

    def _lock_added(self, name: str) -> bool:
        if not self.spec.lock:
            return True
        with self.sessions.begin() as session:
            conflict = lock_targets(session, self.run.id, [self.records[name]])
        if conflict is None:
            return True
        note = f"joined the inventory during the run; in use by playbook run {conflict[1]}"
        self._change(name, state=TargetState.SKIPPED, message=note)
        return False

    def _conclude(self) -> None:
        """Targets that will never start now: SKIPPED or CANCELLED, with the reason."""
        if self.cancel_mode is not None:
            self._give_up(TargetState.CANCELLED, "not started: the run was cancelled")
        elif self.stopped_by_failures:
            note = f"not started: more than {self.limit} targets failed (max_failures)"
            self._give_up(TargetState.SKIPPED, note)

    def _give_up(self, state: TargetState, note: str) -> None:
        """Every target waiting for its batch ends in ``state`` now (status shows it at once)."""
        for name, record in list(self.records.items()):
            scheduled = record.state is TargetState.PENDING or (
                record.state is TargetState.ADDED and record.batch is not None
            )
            if scheduled:
                self._change(name, state=state, message=note)

    # -- one target ---------------------------------------------------------------------------

    async def _run_target(self, name: str) -> None:
        try:
            state, message, results = await self._steps(name)
        except Exception as error:  # one target's crash must not strand the others
            state, message, results = TargetState.FAILED, f"internal error: {error!r}", None
        values: dict[str, Any] = {"state": state, "message": message}
        values["finish_ts"] = datetime.now(UTC)
        if results is not None:
            values["results"] = results
        self._change(name, **values)
        if state is TargetState.FAILED:
            self.failed += 1
            if exceeds(self.failed, self.limit) and not self.stopping:
                self.stopped_by_failures = True
                self._wake.set()
                self._conclude()

    async def _steps(self, name: str) -> tuple[TargetState, str | None, list[Result]]:
        steps = self.spec.steps
        on_failure = self.spec.strategy.on_failure
        results: list[Result] = []
        completed: list[int] = []
        failed_at: int | None = None
        cancelled = False
        for index in range(len(steps)):
            if failed_at is not None and on_failure is not OnFailure.CONTINUE:
                break
            if self.cancel_mode is CancelMode.INTERRUPT:
                cancelled = True
                break
            result = await self._step(name, index)
            results.append(result)
            self._change(name, results=list(results))
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
                self._change(name, results=list(results))
            undone = [r for r in results if r.get("phase") == "rollback"]
            if undone:
                bad = [r["step"] for r in undone if r["status"] != "succeeded"]
                message += "; rolled back" + (f" except {', '.join(bad)}" if bad else "")
        return TargetState.FAILED, message, results

    async def _step(self, name: str, index: int) -> Result:
        step = self.spec.steps[index]
        try:
            rendered = render_step(step, self.records[name].target, self.run.parameters)
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
                    self.sessions,
                    self.repository,
                    rendered,
                    user=self.run.started_by,
                    yes=self.yes,
                    rollback=self.spec.strategy.on_failure is OnFailure.ROLLBACK,
                    control=control,
                )
            )
        finally:
            self._kernels.pop(name, None)

    async def _shell_rollback(self, name: str, index: int) -> Result:
        step = self.spec.steps[index]
        rendered = render_step(step, self.records[name].target, self.run.parameters)
        argv = rendered.rollback_argv or []
        return {**await self._shell(name, rendered, argv), "phase": "rollback"}

    async def _shell(self, name: str, rendered: RenderedStep, argv: list[str]) -> Result:
        record = self.records[name]
        env = {**self._env, "RUNBOOK_TARGET": name, "RUNBOOK_TARGET_ADDRESS": record.address}
        return await run_shell(
            name, rendered, argv, cwd=self.repository.root, env=env, control=self._shells
        )

    async def _in_thread(self, work: Callable[[], Result]) -> Result:
        if self._pool is None:
            workers = self.spec.strategy.concurrency
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="playbook-step")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, in_worker_thread, work)

    # -- cancel -------------------------------------------------------------------------------

    def _poll_cancel(self, throttle: float = 0.0) -> None:
        now = time.monotonic()
        if now - self._last_poll < throttle:
            return
        self._last_poll = now
        with self.sessions.begin() as session:
            mode = cancel_request(session, self.run.id)
        if mode is not None:
            self._cancel(mode)

    def _cancel(self, mode: CancelMode) -> None:
        if self.cancel_mode is CancelMode.INTERRUPT or self.cancel_mode is mode:
            return
        self.cancel_mode = mode
        self._wake.set()
        self._conclude()
        if mode is CancelMode.INTERRUPT:
            self._shells.kill_all()
            for control in list(self._kernels.values()):
                control.interrupt()

    # -- records ------------------------------------------------------------------------------

    def _change(self, name: str, **values: Any) -> None:
        self.records[name] = replace(self.records[name], **values)
        self._pending[name].update(values)
        self.listener.target_changed(self.records[name])

    def flush(self) -> None:
        """Write the pending target changes in one transaction."""
        if self._pending:
            with self.sessions.begin() as session:
                self.flush_into(session)

    def flush_into(self, session: Session) -> None:
        """Write the pending target changes in the caller's transaction."""
        changes, self._pending = dict(self._pending), defaultdict(dict)
        if changes:
            update_targets(session, self.run.id, changes)

    async def _flush_loop(self) -> None:
        since_poll = 0.0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.flush()
            since_poll += FLUSH_INTERVAL
            if since_poll >= CANCEL_POLL:
                since_poll = 0.0
                self._poll_cancel()
