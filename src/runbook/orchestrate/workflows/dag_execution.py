"""One workflow run in progress: its tasks' states and the threads that move them.

Built by :mod:`runbook.orchestrate.workflows.dag` for a run already recorded; it starts every
task whose upstream tasks succeeded, at most ``max_parallel`` at once, retries failed runs,
marks what is
downstream of a failure ``upstream_failed`` and finishes the run's record.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.engine.operators import AutomaticOperator
from runbook.errors import RunbookError, RunStoreLostError
from runbook.model.audit import EventKind, workflow_subject
from runbook.model.repository import Repository
from runbook.model.run import Run, RunMode, RunState
from runbook.model.settings_sections import WorkflowSettings
from runbook.model.workflows.workflow_run import (
    TaskRecord,
    TaskState,
    TriggerKind,
    WorkflowRun,
    WorkflowState,
)
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.orchestrate.leases import keep_alive
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.report_records import report_record
from runbook.orchestrate.running import RunRequest, start_run
from runbook.orchestrate.standing_approvals import confirms_unattended
from runbook.orchestrate.worker_threads import in_worker_thread
from runbook.orchestrate.workflows.workflow_files import task_path
from runbook.orchestrate.workflows.workflow_standing import trigger_caller
from runbook.store.audit import append_event
from runbook.store.leases import WORKFLOW_RUN_LEASE
from runbook.store.runs import get_run, list_cell_events
from runbook.store.workflows.workflow_runs import (
    finish_workflow_run,
    get_task,
    get_workflow_run,
    update_task,
)

#: Called with a task's record each time its state changes (from worker threads).
TaskListener = Callable[[TaskRecord], None]

# nbconvert's exporters are shared and not safe to use from two threads at once.
_REPORT_LOCK = threading.Lock()


class WorkflowExecution:
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
        record = self.run_record
        with keep_alive(self.sessions, WORKFLOW_RUN_LEASE, record.id, record.lease_epoch):
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
                session, record.id, record.lease_epoch, state, message=message, keep_claim=keep
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
                        work = functools.partial(self._run_task, key)
                        running[pool.submit(in_worker_thread, work)] = key
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
                    session,
                    self.repository,
                    notebook,
                    values,
                    planner=user,
                    as_given=True,
                    caller=trigger_caller(self.run_record)
                    or f"workflow:{self.run_record.workflow}",
                )
                yes = confirms_unattended(session, plan)
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
                operator=AutomaticOperator(user, yes=yes),
                mode=RunMode.AUTOMATIC,
                cell_timeout=task.timeout,
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
            record = report_record(session, self.repository, run)
        template_file = (
            task_path(self.repository, self.run_record.source, template) if template else None
        )
        destination = self.settings.outputs / self.run_record.id / "reports" / f"{key}.{fmt}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        with _REPORT_LOCK:
            write_report(
                notebook,
                destination,
                fmt,
                run=run,
                events=events,
                template=template_file,
                record=record,
            )
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
