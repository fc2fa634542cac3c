"""The scheduler: cron schedules and date sensors, with their state in the store.

Every tick it reads the workflow definitions again, then for each trigger:

- a ``schedule`` trigger (``{schedule, timezone}``) asks :func:`runbook.model.schedule.decide`
  whether a fire time is due since the one recorded in the store, and records the firing
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
import shlex
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.config import WorkflowSettings
from runbook.egress import policy_from_config
from runbook.errors import ConfigError, RunbookError, SpecError
from runbook.model.repository import Repository
from runbook.model.schedule import CatchUp, decide, next_fire
from runbook.model.sensor import DueRun, RunKey, due_runs, parameters_key
from runbook.model.stencil import DateStencil, date_ranges_parameter, parse_stencil
from runbook.model.workflow import AvailableDatesSensor, SensorWorkflow, Trigger
from runbook.model.workflow_run import TriggerKind, WorkflowRun, schedule_claim, sensor_claim
from runbook.orchestrate.dag import (
    WorkflowRequest,
    execute_workflow,
    new_workflow_run,
    record_start,
)
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.sensors import (
    command_dates,
    flowapi_available_dates,
    glob_dates,
    http_json_dates,
    sql_dates,
)
from runbook.orchestrate.workflow_files import DefinedWorkflow, load_defined
from runbook.secrets import find_secret
from runbook.store.workflows import claims, failed_attempts, lock_trigger, set_last_fire

#: Where the scheduler's lines go (a logger in the CLI).
Log = Callable[[str], None]
#: Reads the set of available dates of one sensor.
DateSource = Callable[[], set[dt.date]]

SCHEDULER_USER = "scheduler"


@dataclass(frozen=True)
class SchedulerOptions:
    """How the scheduler treats missed fire times, and what counts as on time."""

    catch_up: CatchUp = "run_once"
    grace: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class _Poll:
    """One date sensor: its state key, poll schedule, date source and workflows."""

    key: str
    schedule: str | None
    timezone: str
    source: DateSource
    sensor: AvailableDatesSensor
    workflows: dict[str, DefinedWorkflow]


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

    def _poll(self, poll: _Poll, now: datetime, poll_now: bool) -> list[WorkflowRun]:
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

    def _poll_due(self, poll: _Poll, now: datetime) -> bool:
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

    def _claim_due(self, poll: _Poll, due: DueRun, now: datetime) -> WorkflowRun | None:
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

    def _polls(self, defined: list[DefinedWorkflow]) -> list[_Poll]:
        polls: list[_Poll] = []
        by_file: dict[str, dict[str, DefinedWorkflow]] = {}
        for workflow in defined:
            by_file.setdefault(workflow.source, {})[workflow.spec.name] = workflow
        for source, workflows in by_file.items():
            sensor = next(iter(workflows.values())).defined_in.sensor
            if sensor is not None:
                polls.append(self._flowapi_poll(source, sensor, workflows))
        for workflow in defined:
            file_sensor = workflow.defined_in.sensor
            from_file = {e.workflow_name for e in file_sensor.workflows} if file_sensor else set()
            for index, trigger in enumerate(workflow.spec.triggers):
                # The file's available_dates_sensor shows on each workflow it names as an
                # available_dates trigger; it is polled once, for the whole file, above.
                derived = (
                    trigger.sensor_type == "available_dates" and workflow.spec.name in from_file
                )
                if trigger.kind == "sensor" and not derived:
                    try:
                        polls.append(self._native_poll(workflow, index, trigger))
                    except (ConfigError, SpecError) as error:
                        self.log(f"{workflow.spec.name}: sensor {index} not polled: {error}")
        return polls

    def _flowapi_poll(
        self, source: str, sensor: AvailableDatesSensor, workflows: dict[str, DefinedWorkflow]
    ) -> _Poll:
        def read() -> set[dt.date]:
            url = self.settings.flowapi_url
            if not url:
                raise ConfigError("FLOWAPI_URL", "not set: the available-dates sensor needs it")
            token = find_secret("FLOWAPI_TOKEN") or ""
            policy = policy_from_config(repo_root=self.repository.root)
            return flowapi_available_dates(url, token, sensor.cdr_types, policy)

        return _Poll(f"sensor|file|{source}", sensor.schedule, "UTC", read, sensor, workflows)

    def _native_poll(self, workflow: DefinedWorkflow, index: int, trigger: Trigger) -> _Poll:
        config = dict(trigger.config)
        where = f"{workflow.source}: {workflow.spec.name}.triggers[{index}].config"
        stencil = config.get("date_stencil")
        earliest = config.get("earliest_date")
        entry = SensorWorkflow(
            workflow_name=workflow.spec.name,
            parameters=dict(config.get("parameters") or {}),
            earliest_date=_date(earliest, f"{where}.earliest_date") if earliest else None,
            date_stencil=parse_stencil(stencil, f"{where}.date_stencil") if stencil else None,
        )
        cdr_types = config.get("cdr_types")
        sensor = AvailableDatesSensor(config.get("schedule"), cdr_types, [entry])
        source = self._native_source(trigger.sensor_type or "", config, sensor, where)
        key = f"sensor|{workflow.spec.name}|{index}"
        schedule = config.get("schedule")
        if schedule is not None and not isinstance(schedule, str):
            raise ConfigError(f"{where}.schedule", "expected a cron string")
        return _Poll(
            key,
            schedule,
            str(config.get("timezone", "UTC")),
            source,
            sensor,
            {workflow.spec.name: workflow},
        )

    def _native_source(
        self, kind: str, config: dict[str, Any], sensor: AvailableDatesSensor, where: str
    ) -> DateSource:
        policy = policy_from_config(repo_root=self.repository.root)
        if kind == "available_dates":
            return lambda: flowapi_available_dates(
                str(config.get("url") or self.settings.flowapi_url),
                find_secret("FLOWAPI_TOKEN") or "",
                sensor.cdr_types,
                policy,
            )
        if kind == "http":
            url = _text(config, "url", where)
            return lambda: http_json_dates(url, policy, field=config.get("field"))
        if kind == "glob":
            pattern = _text(config, "pattern", where)
            regex = str(config.get("date_regex", r"(\d{4}-\d{2}-\d{2})"))
            return lambda: glob_dates(self.repository.root, pattern, regex)
        if kind == "command":
            command = config.get("command")
            argv = shlex.split(command) if isinstance(command, str) else command
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                raise ConfigError(f"{where}.command", "expected a command line or a list")
            return lambda: command_dates(argv)
        if kind == "sql":
            url, query = _text(config, "url", where), _text(config, "query", where)
            return lambda: sql_dates(url, query)
        raise ConfigError(where, f"unknown sensor {kind!r}")


def _run_key(claim: str) -> RunKey:
    _, workflow, day, key = claim.split("|", 3)
    return (workflow, dt.date.fromisoformat(day), key)


def _text(config: dict[str, Any], key: str, where: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}", "missing: expected text")
    return value


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(where, f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_scheduler(scheduler: Scheduler, tick_seconds: float, stop: threading.Event) -> None:
    """Tick every ``tick_seconds`` until ``stop`` is set, then wait for running workflows."""
    try:
        while not stop.is_set():
            scheduler.tick()
            stop.wait(tick_seconds)
    finally:
        scheduler.close()
