"""The scheduler: cron schedules and date sensors, with their state in the store.

Every tick it reads the workflow definitions again, then for each trigger:

- a ``schedule`` trigger (``{schedule, timezone}``) asks
  :func:`runbook.model.workflows.schedule.decide` whether a fire time is due since
  the one recorded in the store, and records the firing
  (a workflow run whose claim is ``schedule|workflow|trigger|fire time``) together with the
  trigger's new state, in one transaction. Restarting the scheduler therefore neither repeats
  a fire time (it is recorded) nor forgets one (missed ones are caught up per the catch-up
  policy). On PostgreSQL the trigger's state row is locked ``FOR UPDATE SKIP LOCKED``, and the
  claim is unique: two schedulers never both fire the same schedule;
- a date sensor (AutoFlow's ``available_dates_sensor``, or a native ``{sensor, config}``
  trigger) polls when first seen, then on its own cron schedule (null: once, when the
  scheduler starts; a native sensor without one: every tick), reads the available dates
  from its source and starts each due (workflow, date, parameters) once: its claim
  ``sensor|workflow|date|parameters`` is held while the run is running or has succeeded. A
  failed one is tried again on a later poll, up to ``sensor_attempts`` times.

Fired workflow runs execute on a pool of threads, so a long workflow never delays a tick.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import RunbookError
from runbook.model.repository import Repository
from runbook.model.settings_sections import WorkflowSettings
from runbook.model.stencil import DateStencil, date_ranges_parameter
from runbook.model.workflows.schedule import CatchUp, decide, next_fire
from runbook.model.workflows.sensor import DueRun, RunKey, due_runs, parameters_key
from runbook.model.workflows.workflow import Trigger
from runbook.model.workflows.workflow_run import (
    TriggerKind,
    WorkflowRun,
    schedule_claim,
    sensor_claim,
)
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.workflows.dag import (
    WorkflowRequest,
    execute_workflow,
    new_workflow_run,
    record_start,
)
from runbook.orchestrate.workflows.scheduler_polls import SensorPoll, sensor_polls
from runbook.orchestrate.workflows.workflow_files import DefinedWorkflow, load_defined
from runbook.orchestrate.workflows.workflow_review import check_unattended_tasks
from runbook.store.workflows.workflow_runs import (
    claims,
    failed_attempts,
    lock_trigger,
    set_last_fire,
)

#: Where the scheduler's lines go (a logger in the CLI).
Log = Callable[[str], None]

SCHEDULER_USER = "scheduler"


@dataclass(frozen=True)
class SchedulerOptions:
    """How the scheduler treats missed fire times, and what counts as on time."""

    catch_up: CatchUp = "run_once"
    grace: timedelta = timedelta(minutes=2)


@dataclass
class Scheduler:
    """Fires schedules and sensors on :meth:`tick`; runs what fired on a thread pool."""

    sessions: sessionmaker[Session]
    repository: Repository
    settings: WorkflowSettings
    owner: str
    log: Log
    options: SchedulerOptions = field(default_factory=SchedulerOptions)
    _pool: ThreadPoolExecutor | None = None
    _running: list[Future[WorkflowRun]] = field(default_factory=list)
    _polled_once: set[str] = field(default_factory=set)
    _given_up: set[str] = field(default_factory=set)
    _invalid: dict[str, str] = field(default_factory=dict)
    #: Where errors go (ERROR in the CLI); ``log`` when not given.
    log_error: Log | None = None

    def tick(self, now: datetime | None = None, *, poll_now: bool = False) -> list[WorkflowRun]:
        """Fire what is due at ``now``; returns the workflow runs started (still running).

        ``poll_now`` polls every sensor whatever its schedule (``runbook scheduler --once``).
        """
        moment = now or datetime.now(UTC)
        defined = self._load()
        started: list[WorkflowRun] = []
        for workflow in defined:
            for index, trigger in enumerate(workflow.spec.triggers):
                if trigger.kind == "schedule":
                    started += self._fire_schedule(workflow, index, trigger, moment)
        for poll in self._polls(defined):
            started += self._poll(poll, moment, poll_now)
        self._daily_gc(moment)
        return started

    def _load(self) -> list[DefinedWorkflow]:
        """The workflows of the valid files; each invalid file is named at ERROR.

        Once per distinct error, not every tick: the file stays invalid until someone
        edits it, and its workflows do not fire meanwhile. The others fire as usual.
        """
        loaded = load_defined(self.repository, self.settings)
        now_invalid = {bad.source: str(bad.error) for bad in loaded.invalid}
        for source, error in now_invalid.items():
            if self._invalid.get(source) != error:
                (self.log_error or self.log)(f"{error} (invalid file: none of its workflows fire)")
        for source in self._invalid.keys() - now_invalid.keys():
            self.log(f"{source}: valid again")
        self._invalid = now_invalid
        return loaded.defined

    def _daily_gc(self, now: datetime) -> None:
        """Run ``runbook gc`` once a day (at midnight UTC, or late after a restart)."""
        with self.sessions.begin() as session:
            taken, last = lock_trigger(session, "gc|daily", self.owner)
            if not taken:
                return
            decision = decide("@daily", "UTC", last, now, "run_once", self.options.grace)
            if decision.advance_to != last:
                set_last_fire(session, "gc|daily", decision.advance_to, self.owner)
        if decision.fire_at is None:
            return
        try:
            report = collect_garbage(
                self.sessions, self.repository, self.settings, actor=SCHEDULER_USER, now=now
            )
        except RunbookError as error:
            self.log(f"gc failed: {error}")
            return
        if report.total:
            self.log(f"gc removed {report.total} finished record(s) past their TTL")
        for skipped in report.skipped:
            self.log(f"gc skipped {skipped.kind} {skipped.reason}: its record is kept")
        for warning in report.warnings:
            self.log(f"gc: {warning}")

    def wait(self) -> None:
        """Wait until every workflow run started so far has ended."""
        for future in list(self._running):
            future.result()
        self._running.clear()

    def close(self) -> None:
        """Wait for the running workflows, then stop the pool."""
        self.wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _fire_schedule(
        self, workflow: DefinedWorkflow, index: int, trigger: Trigger, now: datetime
    ) -> list[WorkflowRun]:
        cron = trigger.cron or ""
        key = f"schedule|{workflow.spec.name}|{index}"
        with self.sessions.begin() as session:
            taken, last_fire = lock_trigger(session, key, self.owner)
            if not taken:
                return []  # another scheduler holds this trigger right now
            decision = decide(
                cron, trigger.timezone, last_fire, now, self.options.catch_up, self.options.grace
            )
            run = None
            if decision.fire_at is not None:
                request = WorkflowRequest(
                    spec=workflow.spec,
                    source=workflow.source,
                    started_by=SCHEDULER_USER,
                    reference_date=decision.fire_at.date(),
                    date_ranges=date_ranges_parameter(DateStencil(), decision.fire_at.date()),
                    trigger=TriggerKind.SCHEDULE,
                    natural_key=schedule_claim(workflow.spec.name, index, decision.fire_at),
                )
                try:
                    candidate = new_workflow_run(request)
                    check_unattended_tasks(session, self.repository, candidate)
                except RunbookError as error:
                    self.log(f"{workflow.spec.name}: not fired: {error}")
                else:
                    run = candidate if record_start(session, candidate) else None
            if decision.advance_to != last_fire:
                set_last_fire(session, key, decision.advance_to, self.owner)
        if last_fire is None:
            upcoming = next_fire(cron, trigger.timezone, now)
            self.log(f"{workflow.spec.name}: schedule {cron} ({trigger.timezone}), next {upcoming}")
        if decision.skipped:
            policy = self.options.catch_up
            self.log(f"{workflow.spec.name}: {decision.skipped} missed fire time(s) ({policy})")
        if run is None:
            return []
        late = " (catch-up)" if decision.late else ""
        self.log(f"{workflow.spec.name}: fired for {decision.fire_at}{late}: run {run.id}")
        return [self._execute(run)]

    def _poll(self, poll: SensorPoll, now: datetime, poll_now: bool) -> list[WorkflowRun]:
        if not (self._poll_due(poll, now) or poll_now):
            return []
        try:
            available = poll.source()
        except RunbookError as error:
            self.log(f"{poll.key}: poll failed: {error}")
            return []
        started: list[WorkflowRun] = []
        with self.sessions.begin() as session:
            done = {_run_key(claim) for claim in claims(session, "sensor|")}
        for due in due_runs(poll.sensor, available, done):
            run = self._claim_due(poll, due, now)
            if run is not None:
                started.append(self._execute(run))
        return started

    def _poll_due(self, poll: SensorPoll, now: datetime) -> bool:
        if poll.schedule is None:
            # Null schedule: poll once per scheduler start (AutoFlow runs the sensor once);
            # native sensors without a schedule poll every tick.
            once = poll.key.startswith("sensor|file|")
            if once and poll.key in self._polled_once:
                return False
            self._polled_once.add(poll.key)
            return True
        with self.sessions.begin() as session:
            taken, last_poll = lock_trigger(session, poll.key, self.owner)
            if not taken:
                return False
            if last_poll is None:  # a sensor seen for the first time polls at once
                set_last_fire(session, poll.key, now, self.owner)
                return True
            # Missed polls are made up by one: what a sensor has done is in the claims.
            decision = decide(
                poll.schedule, poll.timezone, last_poll, now, "run_once", self.options.grace
            )
            if decision.advance_to != last_poll:
                set_last_fire(session, poll.key, decision.advance_to, self.owner)
        return decision.fire_at is not None

    def _claim_due(self, poll: SensorPoll, due: DueRun, now: datetime) -> WorkflowRun | None:
        workflow = poll.workflows.get(due.workflow_name)
        if workflow is None:
            return None
        key = sensor_claim(due.workflow_name, due.reference_date, parameters_key(due.parameters))
        request = WorkflowRequest(
            spec=workflow.spec,
            source=workflow.source,
            started_by=SCHEDULER_USER,
            parameters=due.parameters,
            reference_date=due.reference_date,
            date_ranges=due.date_ranges,
            trigger=TriggerKind.SENSOR,
            natural_key=key,
        )
        with self.sessions.begin() as session:
            attempts = failed_attempts(session, key)
            if attempts >= self.settings.sensor_attempts:
                if key not in self._given_up:  # said once per scheduler process, not per poll
                    self._given_up.add(key)
                    self.log(
                        f"{due.workflow_name} {due.reference_date}: given up after {attempts} "
                        "failed runs; resume the last one with `runbook workflow resume RUN`"
                    )
                return None
            try:
                run = new_workflow_run(request)
                check_unattended_tasks(session, self.repository, run)
            except RunbookError as error:
                self.log(f"{due.workflow_name} {due.reference_date}: not started: {error}")
                return None
            if not record_start(session, run):
                return None
        self.log(f"{due.workflow_name}: new data for {due.reference_date}: run {run.id}")
        return run

    def _execute(self, run: WorkflowRun) -> WorkflowRun:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.settings.max_parallel, thread_name_prefix="workflow"
            )
        self._running = [f for f in self._running if not f.done()]
        future = self._pool.submit(
            execute_workflow, self.sessions, self.repository, self.settings, run
        )
        future.add_done_callback(self._report)
        self._running.append(future)
        return run

    def _report(self, future: Future[WorkflowRun]) -> None:
        try:
            run = future.result()
        except Exception as error:  # a crashed workflow must not take the scheduler down
            self.log(f"workflow run crashed: {error!r}")
            return
        message = f": {run.message}" if run.message else ""
        self.log(f"{run.workflow}: run {run.id} {run.state.value}{message}")

    def _polls(self, defined: list[DefinedWorkflow]) -> list[SensorPoll]:
        return sensor_polls(defined, self.repository, self.settings, self.log)


def _run_key(claim: str) -> RunKey:
    _, workflow, day, key = claim.split("|", 3)
    return (workflow, dt.date.fromisoformat(day), key)


def run_scheduler(scheduler: Scheduler, tick_seconds: float, stop: threading.Event) -> None:
    """Tick every ``tick_seconds`` until ``stop`` is set, then wait for running workflows."""
    try:
        while not stop.is_set():
            scheduler.tick()
            stop.wait(tick_seconds)
    finally:
        scheduler.close()
