"""Record functions for workflow runs, their tasks, and the scheduler's per-trigger state.

A sensor or schedule firing carries a natural key; while the firing counts as done
(running, or succeeded) the key is also the run's ``claim``, under a unique index, so a
repeated firing (a second scheduler, a restart, a retried poll) inserts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import UnknownWorkflowRunError
from runbook.model.run import RunState
from runbook.model.workflows.workflow_run import (
    TaskRecord,
    TaskState,
    TriggerKind,
    WorkflowRun,
    WorkflowState,
    spec_from_json,
    spec_to_json,
    task_state_of_run,
)
from runbook.store.leases import (
    WORKFLOW_RUN_LEASE,
    LeaseLostError,
    OwnerGone,
    fenced_update,
    interrupt_expired,
)
from runbook.store.run_records import ids_starting, newest_first
from runbook.store.tables import RunRow, SchedulerStateRow, WorkflowRunRow, WorkflowTaskRow


def create_workflow_run(session: Session, run: WorkflowRun, task_keys: Iterable[str]) -> bool:
    """Insert a workflow run and one PENDING record per task.

    Returns False, inserting nothing, when another run holds the same claim.
    """
    row = WorkflowRunRow(
        id=run.id,
        workflow=run.workflow,
        source=run.source,
        spec=spec_to_json(run.spec),
        parameters=run.parameters,
        trigger=run.trigger.value,
        started_by=run.started_by,
        state=run.state.value,
        started_at=run.started_at,
        ended_at=run.ended_at,
        reference_date=run.reference_date,
        date_ranges=run.date_ranges,
        resumed_from=run.resumed_from,
        natural_key=run.natural_key,
        claim=run.claim,
        message=run.message,
        lease_owner=run.lease_owner,
        lease_epoch=run.lease_epoch,
        heartbeat_at=run.heartbeat_at or run.started_at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if run.claim is not None and _claim_holder(session, run.claim) is not None:
            return False
        raise
    for key in task_keys:
        session.add(
            WorkflowTaskRow(
                workflow_run_id=run.id,
                key=key,
                state=TaskState.PENDING.value,
                attempts=0,
                reports=[],
            )
        )
    session.flush()
    return True


def _claim_holder(session: Session, claim: str) -> str | None:
    return session.scalars(select(WorkflowRunRow.id).where(WorkflowRunRow.claim == claim)).first()


def get_workflow_run(session: Session, run_id: str) -> WorkflowRun:
    """The workflow run with this id; UnknownWorkflowRunError if there is none."""
    row = session.get(WorkflowRunRow, run_id)
    if row is None:
        raise UnknownWorkflowRunError(run_id)
    return _to_run(row)


def list_workflow_runs(
    session: Session,
    *,
    workflow: str | None = None,
    state: WorkflowState | None = None,
    limit: int | None = None,
) -> list[WorkflowRun]:
    """Workflow runs, newest first, optionally of one workflow or in one state."""
    rows = newest_first(
        session,
        WorkflowRunRow,
        limit=limit,
        workflow=workflow,
        state=state.value if state else None,
    )
    return [_to_run(row) for row in rows]


def workflow_run_ids(session: Session, prefix: str = "") -> list[str]:
    """Workflow run ids starting with ``prefix``, sorted (for shell completion)."""
    return ids_starting(session, WorkflowRunRow, prefix)


def list_tasks(session: Session, run_id: str) -> list[TaskRecord]:
    """The task records of a workflow run, in the order they were created."""
    query = (
        select(WorkflowTaskRow)
        .where(WorkflowTaskRow.workflow_run_id == run_id)
        .order_by(WorkflowTaskRow.id)
    )
    return [_to_task(row) for row in session.scalars(query)]


def get_task(session: Session, workflow_run_id: str, key: str) -> TaskRecord:
    """One task record of a workflow run (it exists from the run's start)."""
    row = session.scalars(
        select(WorkflowTaskRow).where(
            WorkflowTaskRow.workflow_run_id == workflow_run_id, WorkflowTaskRow.key == key
        )
    ).one()
    return _to_task(row)


def update_task(session: Session, workflow_run_id: str, key: str, **values: Any) -> None:
    """Set fields of one task record (states are given as TaskState)."""
    if isinstance(values.get("state"), TaskState):
        values["state"] = values["state"].value
    session.execute(
        update(WorkflowTaskRow)
        .where(WorkflowTaskRow.workflow_run_id == workflow_run_id, WorkflowTaskRow.key == key)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def finish_workflow_run(
    session: Session,
    run_id: str,
    epoch: int,
    state: WorkflowState,
    *,
    message: str | None = None,
    keep_claim: bool,
    now: datetime | None = None,
) -> bool:
    """End a running workflow run as its lease's holder at ``epoch``; ``keep_claim=False``
    frees its firing to be tried again.

    Returns False, changing nothing, when the run is no longer this holder's (a sweep marked
    it ``interrupted`` because its heartbeat stopped): that verdict stands.
    """
    if state is WorkflowState.RUNNING:
        raise ValueError("finish_workflow_run needs a final state")
    values: dict[str, Any] = {
        "state": state.value,
        "ended_at": now or datetime.now(UTC),
        "message": message,
    }
    if not keep_claim:
        values["claim"] = None
    try:
        fenced_update(session, WORKFLOW_RUN_LEASE, run_id, epoch, **values)
    except LeaseLostError:
        return False
    return True


def sweep_workflow_runs(
    session: Session,
    *,
    lease_seconds: float,
    owner_gone: OwnerGone | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Mark running workflow runs whose process died ``interrupted``; returns their ids.

    Their running tasks become ``interrupted`` too, and a sensor firing's claim is freed so
    that the next poll may try it again (a schedule firing keeps it: one run per fire time).
    """
    moment = now or datetime.now(UTC)
    rows = interrupt_expired(
        session,
        WORKFLOW_RUN_LEASE,
        lease_seconds=lease_seconds,
        owner_gone=owner_gone,
        now=moment,
        ended_at=moment,
        message="the workflow's process stopped heart-beating",
    )
    for row in rows:
        if row.trigger == TriggerKind.SENSOR.value:
            row.claim = None
    session.flush()
    marked = [row.id for row in rows]
    if marked:
        reconcile_tasks(session, marked, now=moment)
        session.execute(
            update(WorkflowTaskRow)
            .where(
                WorkflowTaskRow.workflow_run_id.in_(marked),
                WorkflowTaskRow.state == TaskState.RUNNING.value,
            )
            .values(
                state=TaskState.INTERRUPTED.value,
                ended_at=moment,
                message="not started: the workflow's process died before its run was recorded",
            )
            .execution_options(synchronize_session=False)
        )
    return marked


def reconcile_tasks(
    session: Session, workflow_run_ids: list[str], *, now: datetime | None = None
) -> list[str]:
    """Give the running or interrupted tasks of finished workflow runs their runs' states.

    A workflow whose process died leaves tasks ``running`` (or, swept by an older version,
    ``interrupted``) although their runs, recorded apart, may have ended: a task whose run
    succeeded is ``succeeded`` with the run's notebook, so ``resume`` reuses it instead of
    running it again (:func:`task_state_of_run`). Call it after the runs' own sweep, so a run
    of the dead process is ``interrupted`` rather than ``running``. Returns the tasks changed
    as ``workflow run/key``.
    """
    moment = now or datetime.now(UTC)
    query = (
        select(WorkflowTaskRow, RunRow)
        .join(RunRow, RunRow.id == WorkflowTaskRow.run_id)
        .where(
            WorkflowTaskRow.workflow_run_id.in_(workflow_run_ids),
            WorkflowTaskRow.state.in_([TaskState.RUNNING.value, TaskState.INTERRUPTED.value]),
        )
    )
    changed = []
    for task, run in session.execute(query):
        state = task_state_of_run(RunState(run.state))
        reason = f": {run.message}" if run.message else ""
        task.state = state.value
        task.notebook_path = run.notebook_path
        task.ended_at = run.ended_at or moment
        task.message = f"run {run.id} {run.state}{reason} (recorded from the run's record)"
        changed.append(f"{task.workflow_run_id}/{task.key}")
    session.flush()
    return changed


def claims(session: Session, prefix: str) -> set[str]:
    """The claims held now (running or succeeded firings) that start with ``prefix``."""
    query = select(WorkflowRunRow.claim).where(
        WorkflowRunRow.claim.startswith(prefix, autoescape=True)
    )
    return {claim for claim in session.scalars(query) if claim is not None}


def failed_attempts(session: Session, natural_key: str) -> int:
    """How many runs of this firing ended without success."""
    query = select(func.count()).where(
        WorkflowRunRow.natural_key == natural_key,
        WorkflowRunRow.state.in_([WorkflowState.FAILED.value, WorkflowState.INTERRUPTED.value]),
    )
    return int(session.scalar(query) or 0)


def lock_trigger(session: Session, key: str, owner: str) -> tuple[bool, datetime | None]:
    """Take the row lock of one trigger's state for this transaction.

    Returns (taken, last fire time). On PostgreSQL the row is locked ``FOR UPDATE SKIP
    LOCKED``: a second scheduler gets (False, None) and leaves the trigger to the first. On
    SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    """
    now = datetime.now(UTC)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            pg_insert(SchedulerStateRow)
            .values(key=key, last_fire=None, updated_at=now, owner=owner)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.scalars(
            select(SchedulerStateRow)
            .where(SchedulerStateRow.key == key)
            .with_for_update(skip_locked=True)
        ).first()
        return (False, None) if row is None else (True, row.last_fire)
    found = session.get(SchedulerStateRow, key)
    if found is None:
        session.add(SchedulerStateRow(key=key, last_fire=None, updated_at=now, owner=owner))
        session.flush()
        return True, None
    return True, found.last_fire


def set_last_fire(session: Session, key: str, last_fire: datetime, owner: str) -> None:
    """Record what the scheduler did for one trigger (after :func:`lock_trigger`)."""
    session.execute(
        update(SchedulerStateRow)
        .where(SchedulerStateRow.key == key)
        .values(last_fire=last_fire, updated_at=datetime.now(UTC), owner=owner)
        .execution_options(synchronize_session=False)
    )


def _to_run(row: WorkflowRunRow) -> WorkflowRun:
    return WorkflowRun(
        id=row.id,
        workflow=row.workflow,
        source=row.source,
        spec=spec_from_json(row.spec),
        parameters=dict(row.parameters),
        trigger=TriggerKind(row.trigger),
        started_by=row.started_by,
        state=WorkflowState(row.state),
        started_at=row.started_at,
        reference_date=row.reference_date,
        date_ranges=row.date_ranges,
        ended_at=row.ended_at,
        resumed_from=row.resumed_from,
        natural_key=row.natural_key,
        claim=row.claim,
        message=row.message,
        lease_owner=row.lease_owner,
        lease_epoch=row.lease_epoch,
        heartbeat_at=row.heartbeat_at,
    )


def _to_task(row: WorkflowTaskRow) -> TaskRecord:
    return TaskRecord(
        workflow_run_id=row.workflow_run_id,
        key=row.key,
        state=TaskState(row.state),
        attempts=row.attempts,
        plan_id=row.plan_id,
        run_id=row.run_id,
        notebook_path=row.notebook_path,
        reports=list(row.reports),
        started_at=row.started_at,
        ended_at=row.ended_at,
        message=row.message,
    )
