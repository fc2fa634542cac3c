"""Driving one playbook run: batches in order, a bounded number of targets at once, drift.

Everything happens on one asyncio event loop: shell steps are child processes it watches,
runbook steps go to a thread pool (a kernel each). Target records change in memory first
(what listeners see at once) and reach the store in batched transactions a few times a
second, at the end of every batch and at the end of the run; a cancel request is read from
the store between target starts and about every second.

The rules (also in :mod:`runbook.model.playbooks.strategy` and ``runbook playbook run --help``):

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

One target's steps run in :mod:`runbook.orchestrate.playbooks.fleet_target`; re-reading the
inventory is :mod:`runbook.orchestrate.playbooks.fleet_drift`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from runbook.model.playbooks.playbook import PlaybookSpec, StaticInventory, TargetState
from runbook.model.playbooks.playbook_run import CancelMode, PlaybookRun, TargetRecord
from runbook.model.playbooks.strategy import batch_sizes, exceeds, failure_limit, split_batches
from runbook.orchestrate.playbooks.fleet_drift import WAITING, reread_inventory
from runbook.orchestrate.playbooks.fleet_target import TargetSteps
from runbook.store.playbooks.playbook_runs import cancel_request, update_targets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from runbook.model.repository import Repository

FLUSH_INTERVAL: Final = 0.25
CANCEL_POLL: Final = 1.0
#: Between target starts the store is asked about a cancel at most this often.
START_POLL: Final = 0.2


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
        self._steps = TargetSteps(self)
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
            self._steps.shutdown()
            self.flush()

    async def _drive(self) -> None:
        strategy = self.spec.strategy
        waiting = [r for r in self.records.values() if r.state in WAITING and r.batch]
        waiting.sort(key=lambda record: record.position)
        numbers = sorted({record.batch for record in waiting if record.batch is not None})
        batches = [[r.name for r in waiting if r.batch == number] for number in numbers]
        index = 0
        while index < len(batches) and not self.stopping:
            if index > 0 and not await self._pause(strategy.pause_between_batches):
                break
            if index > 0:
                await reread_inventory(self, batches)
            await self._run_batch(batches[index])
            index += 1
            if index == len(batches) and not self.stopping:
                await reread_inventory(self, batches)  # drift during the last batch is recorded too
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
            if self.stopping or record.state not in WAITING:
                slots.release()
                if self.stopping:
                    break
                continue
            self._seq += 1
            self.change(
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
                self.change(name, state=state, message=note)

    # -- one target ---------------------------------------------------------------------------

    async def _run_target(self, name: str) -> None:
        try:
            state, message, results = await self._steps.run(name)
        except Exception as error:  # one target's crash must not strand the others
            state, message, results = TargetState.FAILED, f"internal error: {error!r}", None
        values: dict[str, Any] = {"state": state, "message": message}
        values["finish_ts"] = datetime.now(UTC)
        if results is not None:
            values["results"] = results
        self.change(name, **values)
        if state is TargetState.FAILED:
            self.failed += 1
            if exceeds(self.failed, self.limit) and not self.stopping:
                self.stopped_by_failures = True
                self._wake.set()
                self._conclude()

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
            self._steps.interrupt()

    # -- records ------------------------------------------------------------------------------

    def change(self, name: str, **values: Any) -> None:
        """Change a target's record now; it reaches the store with the next flush."""
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
