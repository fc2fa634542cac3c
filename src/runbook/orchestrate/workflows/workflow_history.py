"""Reading workflow runs: what ``runbook workflow runs | show`` (and the API to come) show.

Every read sweeps first (:func:`sweep_workflows`), so a workflow run whose process died shows
as ``interrupted`` whoever asks. Light on purpose: it imports neither the DAG runner nor the
engine.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from runbook.model.audit import EventKind, workflow_subject
from runbook.model.workflows.workflow_run import TaskRecord, WorkflowRun, WorkflowState
from runbook.orchestrate.leases import lease_seconds, owner_gone
from runbook.orchestrate.sweeping import audit_swept, sweep
from runbook.store.workflows.workflow_runs import (
    get_workflow_run,
    list_tasks,
    list_workflow_runs,
    sweep_workflow_runs,
)


def sweep_workflows(session: Session) -> list[str]:
    """Mark workflow runs whose process died ``interrupted``; the ids marked.

    The runs of their tasks are swept first, so each task then takes its run's recorded
    state (a task whose run succeeded stays succeeded: see ``reconcile_tasks``).
    """
    sweep(session)
    marked = sweep_workflow_runs(session, lease_seconds=lease_seconds(), owner_gone=owner_gone)
    return audit_swept(session, marked, EventKind.WORKFLOW_FINISHED, workflow_subject)


def find_workflow_runs(
    session: Session,
    *,
    workflow: str | None = None,
    state: WorkflowState | None = None,
    limit: int | None = None,
) -> list[WorkflowRun]:
    """Workflow runs, newest first, optionally of one workflow or in one state (swept first)."""
    sweep_workflows(session)
    return list_workflow_runs(session, workflow=workflow, state=state, limit=limit)


def show_workflow_run(session: Session, run_id: str) -> tuple[WorkflowRun, list[TaskRecord]]:
    """Workflow run ``run_id`` (swept first) and its tasks' records."""
    sweep_workflows(session)
    return get_workflow_run(session, run_id), list_tasks(session, run_id)
