"""The workflow DAG runner: each task a full Runbook run, independent tasks in parallel.

A workflow run freezes the workflow's definition and parameters in the store, then starts
every task whose upstream tasks have succeeded, at most ``max_parallel`` at once. A task is
planned from its notebook with the values its references resolve to (papermill-style, as
literals), and run automatically with the run record, cell events and audit events of any
run. Nobody is there to answer a gate: a ``confirm`` cell stops the task, and a notebook
whose review policy requires an approval is refused; both fail the task.

A task that fails is retried ``retries`` times after ``retry_delay`` seconds (only a run
that *failed*: a refusal or a stop at a gate is not retried); once it has failed for good,
every task downstream of it is ``upstream_failed`` and the others go on. ``resume`` starts a
new workflow run that reuses the successful tasks' executed notebooks and runs the rest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.config import WorkflowSettings
from runbook.engine.operators import AutomaticOperator
from runbook.errors import (
    ParameterError,
    PathEscapeError,
    RunbookError,
    RunStoreLostError,
    UsageError,
)
from runbook.model.audit import EventKind, workflow_subject
from runbook.model.ids import stored_path
from runbook.model.parameters import check_text
from runbook.model.repository import Repository
from runbook.model.run import Run, RunMode, RunState
from runbook.model.workflow import AUTOMATIC_PARAMETERS, WorkflowSpec
from runbook.model.workflow_run import (
    TaskRecord,
    TaskState,
    TriggerKind,
    WorkflowRun,
    WorkflowState,
    new_workflow_run_id,
)
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.running import (
    LeaseHeartbeat,
    RunRequest,
    audit_swept,
    lease_owner,
    lease_seconds,
    owner_gone,
    start_run,
    sweep,
)
from runbook.orchestrate.workflow_files import task_path
from runbook.store.audit import append_event
from runbook.store.runs import get_run, list_cell_events
from runbook.store.workflows import (
    create_workflow_run,
    finish_workflow_run,
    get_task,
    get_workflow_run,
    heartbeat_workflow_run,
    list_tasks,
    reconcile_tasks,
    sweep_workflow_runs,
    update_task,
)

#: Called with a task's record each time its state changes (from worker threads).
TaskListener = Callable[[TaskRecord], None]

# nbconvert's exporters are shared and not safe to use from two threads at once.
_REPORT_LOCK = threading.Lock()


@dataclass
class WorkflowRequest:
    """What to run: a workflow definition, its parameter values and what started it."""

    spec: WorkflowSpec
    source: str
    started_by: str
    parameters: Mapping[str, object] = field(default_factory=dict)
    reference_date: dt.date | None = None
    date_ranges: list[list[str]] | None = None
    trigger: TriggerKind = TriggerKind.MANUAL
    natural_key: str | None = None
    listener: TaskListener | None = None


def bind_workflow_parameters(spec: WorkflowSpec, given: Mapping[str, object]) -> dict[str, Any]:
    """The values of a workflow's parameters: given ones, else declared defaults.

    The names a workflow knows are its declared parameters and, for AutoFlow's form where
    nothing is declared, every plain name its tasks refer to. An unknown name, or a
    required one without a value, raises ParameterError.
    """
    referenced = {
        ref
        for task in spec.tasks.values()
        for ref in task.parameters.values()
        if ref not in spec.tasks and ref not in AUTOMATIC_PARAMETERS and ref != "flowapi_url"
    }
    known = dict.fromkeys([*spec.parameters, *sorted(referenced - set(spec.parameters))])
    for name in given:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise ParameterError(name, f"not a parameter of workflow {spec.name} (known: {listed})")
        check_text(name, given[name])
    values: dict[str, Any] = {}
    for name in known:
        if name in given:
            values[name] = _plain(given[name])
        elif name in spec.parameters and name not in spec.required:
            values[name] = _plain(spec.parameters[name])
        else:
            raise ParameterError(name, f"is required by workflow {spec.name}; pass -p {name}=VALUE")
    return values


def sweep_workflows(session: Session) -> list[str]:
    """Mark workflow runs whose process died ``interrupted`` (called by commands that look).

    The runs of their tasks are swept first, so each task then takes its run's recorded
    state (a task whose run succeeded stays succeeded: see ``reconcile_tasks``).
    """
    sweep(session)
    marked = sweep_workflow_runs(session, lease_seconds=lease_seconds(), owner_gone=owner_gone)
    return audit_swept(session, marked, EventKind.WORKFLOW_FINISHED, workflow_subject)


def start_workflow(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    request: WorkflowRequest,
) -> WorkflowRun | None:
    """Run a workflow to its end; None when its firing (natural key) is already claimed."""
    run = new_workflow_run(request)
    with sessions.begin() as session:
        if not record_start(session, run):
            return None
    return execute_workflow(sessions, repository, settings, run, request.listener)


def new_workflow_run(request: WorkflowRequest) -> WorkflowRun:
    """The record of a workflow run about to start; ParameterError for bad parameters."""
    values = bind_workflow_parameters(request.spec, request.parameters)
    moment = datetime.now(UTC)
    return WorkflowRun(
        id=new_workflow_run_id(moment),
        workflow=request.spec.name,
        source=request.source,
        spec=request.spec,
        parameters=values,
        trigger=request.trigger,
        started_by=request.started_by,
        state=WorkflowState.RUNNING,
        started_at=moment,
        reference_date=request.reference_date,
        date_ranges=request.date_ranges,
        natural_key=request.natural_key,
        claim=request.natural_key,
        lease_owner=lease_owner(),
        heartbeat_at=moment,
    )


def execute_workflow(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    run: WorkflowRun,
    listener: TaskListener | None = None,
) -> WorkflowRun:
    """Execute a workflow run recorded by :func:`record_start`, to its end."""
    return _Execution(sessions, repository, settings, run, {}, listener).run()


def resume_workflow(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    run_id: str,
    started_by: str,
    listener: TaskListener | None = None,
) -> WorkflowRun:
    """Run again only what did not succeed in workflow run ``run_id``, as a new run.

    Successful tasks are ``reused``: their executed notebooks are what downstream tasks get.
    The frozen definition and parameters of the earlier run are used, not today's files.
    """
    with sessions.begin() as session:
        sweep_workflows(session)
        earlier = get_workflow_run(session, run_id)
        if earlier.state.finished:
            # Tasks whose runs ended after the sweep that ended this workflow run.
            reconcile_tasks(session, [run_id])
        tasks = list_tasks(session, run_id)
    if earlier.state is WorkflowState.RUNNING:
        raise UsageError(f"workflow run {run_id} is still running")
    if earlier.state is WorkflowState.SUCCEEDED:
        raise UsageError(f"workflow run {run_id} succeeded: there is nothing to resume")
    # A reused task's notebook must still exist: `runbook gc` may have removed it.
    reused = {
        task.key: task
        for task in tasks
        if task.state.ok and task.notebook_path and _still_there(repository, task.notebook_path)
    }
    now = datetime.now(UTC)
    # A sensor firing is claimed again (it was freed when the run failed); a schedule's
    # fire time stays claimed by the run it started.
    claim = earlier.natural_key if earlier.trigger is TriggerKind.SENSOR else None
    run = replace(
        earlier,
        id=new_workflow_run_id(now),
        started_by=started_by,
        state=WorkflowState.RUNNING,
        started_at=now,
        ended_at=None,
        resumed_from=earlier.id,
        claim=claim,
        message=None,
        lease_owner=lease_owner(),
        heartbeat_at=now,
    )
    with sessions.begin() as session:
        recorded = record_start(session, run)
    if not recorded:
        raise UsageError(
            f"workflow run {run_id}: its firing was already run again (see `runbook "
            f"workflow runs {earlier.workflow}`)"
        )
    return _Execution(sessions, repository, settings, run, reused, listener).run()


def record_start(session: Session, run: WorkflowRun) -> bool:
    """Insert a starting workflow run and its audit event; False if its claim is taken.

    Part of the caller's transaction, so a scheduler records a firing and its own state
    together or not at all.
    """
    sweep_workflows(session)
    if not create_workflow_run(session, run, run.spec.tasks):
        return False
    append_event(
        session,
        kind=EventKind.WORKFLOW_STARTED,
        actor=run.started_by,
        subject=workflow_subject(run.id),
        payload={
            "workflow": run.workflow,
            "source": run.source,
            "trigger": run.trigger.value,
            "parameters": run.parameters,
            "reference_date": run.reference_date.isoformat() if run.reference_date else None,
            "resumed_from": run.resumed_from,
        },
    )
    return True


class _Execution:
    """One workflow run in progress: the task states and the threads that move them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        repository: Repository,
        settings: WorkflowSettings,
        run: WorkflowRun,
        reused: dict[str, TaskRecord],
        listener: TaskListener | None,
    ) -> None:
        self.sessions = sessions
        self.repository = repository
        self.settings = settings
        self.run_record = run
        self.spec = run.spec
        self.listener = listener
        self.states: dict[str, TaskState] = dict.fromkeys(self.spec.tasks, TaskState.PENDING)
        self.notebooks: dict[str, str] = {}
        self.stopping = threading.Event()
        for key, task in reused.items():
            if key in self.states and task.notebook_path:
                self.states[key] = TaskState.REUSED
                self.notebooks[key] = task.notebook_path
                self._update(
                    key,
                    state=TaskState.REUSED,
                    plan_id=task.plan_id,
                    run_id=task.run_id,
                    notebook_path=task.notebook_path,
                    reports=task.reports or self._missing_report(key, task),
                    message=f"reused from {run.resumed_from}",
                )

    def run(self) -> WorkflowRun:
        message = None
        beat = functools.partial(heartbeat_workflow_run, run_id=self.run_record.id)
        with LeaseHeartbeat(self.sessions, beat, self.run_record.id):
            try:
                self._drive()
            except KeyboardInterrupt:
                message = "stopped by the operator: the tasks not started were left pending"
        failed = [k for k, s in self.states.items() if not s.ok]
        state = WorkflowState.FAILED if failed else WorkflowState.SUCCEEDED
        if failed and message is None:
            message = f"{len(failed)} of {len(self.states)} tasks did not succeed: " + ", ".join(
                f"{key} {self.states[key].value}" for key in failed
            )
        keep = state is WorkflowState.SUCCEEDED or self.run_record.trigger is TriggerKind.SCHEDULE
        with self.sessions.begin() as session:
            finish_workflow_run(
                session, self.run_record.id, state, message=message, keep_claim=keep
            )
            append_event(
                session,
                kind=EventKind.WORKFLOW_FINISHED,
                actor=self.run_record.started_by,
                subject=workflow_subject(self.run_record.id),
                payload={
                    "state": state.value,
                    "tasks": {k: s.value for k, s in self.states.items()},
                },
            )
            final = get_workflow_run(session, self.run_record.id)
        anchor_quietly(
            self.sessions, self.repository, reason=f"workflow run {final.id} finished", log=True
        )
        return final

    def _drive(self) -> None:
        running: dict[Future[TaskState], str] = {}
        with ThreadPoolExecutor(self.settings.max_parallel, thread_name_prefix="task") as pool:
            try:
                while True:
                    self._mark_upstream_failed()
                    for key in self._ready():
                        if len(running) >= self.settings.max_parallel:
                            break
                        self.states[key] = TaskState.RUNNING
                        running[pool.submit(_in_thread_loop, self._run_task, key)] = key
                    if not running:
                        return
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        self.states[running.pop(future)] = future.result()
            except KeyboardInterrupt:
                self.stopping.set()  # no retry waits; the running tasks end their own runs
                for future in list(running):
                    self.states[running.pop(future)] = future.result()
                raise

    def _ready(self) -> list[str]:
        return [
            key
            for key, state in self.states.items()
            if state is TaskState.PENDING
            and all(self.states[dep].ok for dep in self.spec.dependencies(key))
        ]

    def _mark_upstream_failed(self) -> None:
        changed = True
        while changed:
            changed = False
            for key, state in self.states.items():
                if state is not TaskState.PENDING:
                    continue
                broken = [
                    dep
                    for dep in self.spec.dependencies(key)
                    if self.states[dep] in (TaskState.FAILED, TaskState.UPSTREAM_FAILED)
                ]
                if broken:
                    self.states[key] = TaskState.UPSTREAM_FAILED
                    self._update(
                        key, state=TaskState.UPSTREAM_FAILED, message=f"{broken[0]} did not succeed"
                    )
                    changed = True

    def _run_task(self, key: str) -> TaskState:
        try:
            return self._attempt_task(key)
        except Exception as error:  # one task's crash must not strand the others
            return self._end(key, TaskState.FAILED, message=f"internal error: {error!r}")

    def _attempt_task(self, key: str) -> TaskState:
        task = self.spec.tasks[key]
        user = self.run_record.started_by
        try:
            values = {name: self._resolve(ref) for name, ref in task.parameters.items()}
            notebook = task_path(self.repository, self.run_record.source, task.filename)
            with self.sessions() as session:
                plan = plan_runbook(
                    session, self.repository, notebook, values, planner=user, as_given=True
                )
        except RunbookError as error:
            return self._end(key, TaskState.FAILED, message=f"not planned: {error}")
        for attempt in range(1, task.retries + 2):
            self._update(
                key,
                state=TaskState.RUNNING,
                attempts=attempt,
                plan_id=plan.id,
                started_at=datetime.now(UTC),
            )
            request = RunRequest(
                plan_id=plan.id,
                executor=user,
                operator=AutomaticOperator(user, yes=False),
                mode=RunMode.AUTOMATIC,
                on_record=functools.partial(self._link_run, key),
            )
            try:
                result = start_run(self.sessions, self.repository, request)
            except RunStoreLostError as error:  # outcome unknown, as the run's record will say
                return self._end(key, TaskState.INTERRUPTED, message=str(error))
            except RunbookError as error:
                return self._end(key, TaskState.FAILED, message=f"refused: {error}")
            outcome = result.outcome
            if outcome.state is RunState.SUCCEEDED:
                return self._succeed(key, result.run.id, result.run.notebook_path)
            retryable = outcome.state is RunState.FAILED and attempt <= task.retries
            if not retryable or self.stopping.wait(task.retry_delay):
                return self._end(
                    key,
                    TaskState.FAILED,
                    message=f"run {result.run.id} {outcome.state.value}: "
                    f"{outcome.message or 'no message'}",
                )
        raise AssertionError("unreachable: the last attempt always returns")

    def _missing_report(self, key: str, task: TaskRecord) -> list[str]:
        """The report of a reused task whose process died after its run, before its report."""
        output = self.spec.tasks[key].output
        if output is None or task.run_id is None or task.notebook_path is None:
            return []
        try:
            path = self._write_report(
                key, task.run_id, task.notebook_path, output.format, output.template
            )
        except RunbookError:
            return []  # as when the earlier run wrote none: the notebook is what is reused
        return [path]

    def _link_run(self, key: str, session: Session, run: Run) -> None:
        """The task's run, recorded with the run itself (never null once the run exists)."""
        update_task(
            session, self.run_record.id, key, run_id=run.id, notebook_path=run.notebook_path
        )

    def _succeed(self, key: str, run_id: str, notebook_path: str) -> TaskState:
        self.notebooks[key] = notebook_path
        output = self.spec.tasks[key].output
        reports: list[str] = []
        if output is not None:
            try:
                reports.append(
                    self._write_report(key, run_id, notebook_path, output.format, output.template)
                )
            except RunbookError as error:
                return self._end(key, TaskState.FAILED, message=f"report not written: {error}")
        return self._end(key, TaskState.SUCCEEDED, reports=reports)

    def _write_report(
        self, key: str, run_id: str, notebook_path: str, fmt: str, template: str | None
    ) -> str:
        from runbook.engine.report import write_report  # nbconvert: only when reporting
        from runbook.model.notebook import read_notebook

        notebook = read_notebook(self.repository.root / notebook_path, notebook_path)
        with self.sessions.begin() as session:
            events = list_cell_events(session, run_id)
            run = get_run(session, run_id)
        template_file = (
            task_path(self.repository, self.run_record.source, template) if template else None
        )
        destination = self.settings.outputs / self.run_record.id / "reports" / f"{key}.{fmt}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        with _REPORT_LOCK:
            write_report(notebook, destination, fmt, run=run, events=events, template=template_file)
        return self.repository.relative(destination)

    def _resolve(self, reference: str) -> Any:
        if reference in self.spec.tasks:
            # The executed notebook, absolute: notebooks open it whatever their working folder.
            return str(self.repository.root / self.notebooks[reference])
        if reference == "reference_date":
            date = self.run_record.reference_date
            return date.isoformat() if date else None
        if reference == "date_ranges":
            return self.run_record.date_ranges
        if reference == "flowapi_url":
            return self.settings.flowapi_url
        return self.run_record.parameters[reference]

    def _end(self, key: str, state: TaskState, **values: Any) -> TaskState:
        self._update(key, state=state, ended_at=datetime.now(UTC), **values)
        return state

    def _update(self, key: str, **values: Any) -> None:
        with self.sessions.begin() as session:
            update_task(session, self.run_record.id, key, **values)
            if self.listener is None:
                return
            record = get_task(session, self.run_record.id, key)
        self.listener(record)


def _in_thread_loop(work: Callable[[str], TaskState], key: str) -> TaskState:
    """Run ``work`` in a pool thread, then close the event loop the kernel client made there.

    jupyter_client's blocking calls create one event loop per thread and leave it open; a
    pool thread outlives the task, so its loop (and the sockets on it) is closed here.
    """
    try:
        return work(key)
    finally:
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = None
        if loop is not None and not loop.is_running():
            loop.close()
            asyncio.set_event_loop(None)


def _plain(value: object) -> Any:
    """``value`` made of JSON types: dates as ISO text (papermill passes them as text)."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _still_there(repository: Repository, notebook_path: str) -> bool:
    """Whether a task's executed notebook, as its record says, is still under ``runs/``."""
    try:
        return stored_path(repository.root, repository.runs_dir, notebook_path).is_file()
    except PathEscapeError:
        return False  # a record pointing elsewhere is never read: the task runs again
