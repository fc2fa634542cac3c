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

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import (
    ParameterError,
    PathEscapeError,
    UsageError,
    refuses_runs,
)
from runbook.model.audit import EventKind, workflow_subject
from runbook.model.ids import stored_path
from runbook.model.option_values import untyped_value
from runbook.model.parameters import check_text
from runbook.model.repository import Repository
from runbook.model.settings_sections import WorkflowSettings
from runbook.model.workflows.workflow import AUTOMATIC_PARAMETERS, WorkflowSpec
from runbook.model.workflows.workflow_run import (
    TaskRecord,
    TriggerKind,
    WorkflowRun,
    WorkflowState,
    new_workflow_run_id,
)
from runbook.orchestrate.leases import lease_owner
from runbook.orchestrate.workflows.dag_execution import TaskListener, WorkflowExecution
from runbook.orchestrate.workflows.workflow_history import sweep_workflows
from runbook.orchestrate.workflows.workflow_review import check_unattended_tasks
from runbook.store.audit import append_event
from runbook.store.workflows.workflow_runs import (
    create_workflow_run,
    get_workflow_run,
    list_tasks,
    reconcile_tasks,
)


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
            values[name] = _plain(untyped_value(given[name]))
        elif name in spec.parameters and name not in spec.required:
            values[name] = _plain(spec.parameters[name])
        else:
            raise ParameterError(name, f"is required by workflow {spec.name}; pass -p {name} VALUE")
    return values


@refuses_runs
def start_workflow(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    request: WorkflowRequest,
) -> WorkflowRun | None:
    """Run a workflow to its end; None when its firing (natural key) is already claimed.

    A task that needs review and that no standing approval covers refuses the whole run
    before it starts (RunRefusedError, exit 4, as ``run`` refuses).
    """
    run = begin_workflow(sessions, repository, request)
    if run is None:
        return None
    return execute_workflow(sessions, repository, settings, run, request.listener)


@refuses_runs
def begin_workflow(
    sessions: sessionmaker[Session], repository: Repository, request: WorkflowRequest
) -> WorkflowRun | None:
    """Check and record a workflow run about to start (None when its firing is claimed);
    :func:`execute_workflow` then runs it, here or in another thread."""
    run = new_workflow_run(request)
    with sessions() as session:  # before anything starts
        check_unattended_tasks(session, repository, run)
    with sessions.begin() as session:
        if not record_start(session, run):
            return None
    return run


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
    reused: Mapping[str, TaskRecord] | None = None,
) -> WorkflowRun:
    """Execute a workflow run recorded by :func:`record_start`, to its end (reusing the
    tasks ``reused`` names, for a resumed run)."""
    return WorkflowExecution(
        sessions, repository, settings, run, dict(reused or {}), listener
    ).run()


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
    run, reused = begin_resume(sessions, repository, run_id, started_by)
    return WorkflowExecution(sessions, repository, settings, run, reused, listener).run()


def begin_resume(
    sessions: sessionmaker[Session], repository: Repository, run_id: str, started_by: str
) -> tuple[WorkflowRun, dict[str, TaskRecord]]:
    """Record the run that resumes ``run_id``, with the tasks it reuses (by key); the
    execution then runs it, here or in another thread."""
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
    return run, reused


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
