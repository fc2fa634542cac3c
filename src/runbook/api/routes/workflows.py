"""``/workflows`` and ``/workflow-runs``: ``runbook workflow list|run|runs|show|resume``.

A run started here is recorded before the answer (202, with its id) and executes in the
server's background; follow it with ``GET /workflow-runs/{id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.routes.bodies import WorkflowRunBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.workflows.workflow_run import WorkflowState
from runbook.orchestrate.workflows.workflow_files import load_defined, settings_for
from runbook.orchestrate.workflows.workflow_history import find_workflow_runs, show_workflow_run
from runbook.orchestrate.workflows.workflow_launch import (
    launch_resume,
    launch_workflow,
    manual_request,
)
from runbook.orchestrate.workflows.workflow_summaries import (
    task_summary,
    workflow_row,
    workflow_run_summary,
)

router = APIRouter(tags=["workflows"], responses=CREATING_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Operator = Annotated[Principal, requires(Permission.RUN)]


@router.get("/workflows", dependencies=[requires(Permission.VIEW)])
def get_workflows(repo: Repo) -> dict[str, Any]:
    """The workflows of the inputs folder, and each invalid file with its error
    (``runbook workflow list --json``)."""
    loaded = load_defined(repo, settings_for(repo))
    return {
        "workflows": [workflow_row(w.spec, w.source) for w in loaded.defined],
        "invalid": [{"file": bad.source, "error": str(bad.error)} for bad in loaded.invalid],
    }


@router.post("/workflows/{name}/runs", status_code=202)
def post_workflow_run(
    name: str, body: WorkflowRunBody, request: Request, repo: Repo, principal: Operator, once: Once
) -> JSONResponse:
    """Start workflow ``name`` now, in the background: the run as recorded at its start."""

    def work() -> dict[str, Any]:
        started = manual_request(
            repo,
            name,
            started_by=principal.user,
            parameters=body.parameters,
            reference_date=body.date,
        )
        state = request.app.state
        sessions = sessionmaker(state.engine)
        run = launch_workflow(state.background, sessions, repo, started, state.artifacts)
        return workflow_run_summary(run)

    return once(work, status=202)


@router.get("/workflow-runs", dependencies=[requires(Permission.VIEW)])
def get_workflow_runs(
    session: Store,
    workflow: Annotated[str | None, Query(description="Only runs of this workflow.")] = None,
    state: Annotated[WorkflowState | None, Query(description="Only runs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Workflow runs, newest first (``runbook workflow runs --json``)."""
    runs = find_workflow_runs(session, workflow=workflow, state=state, limit=limit)
    return [workflow_run_summary(run) for run in runs]


@router.get("/workflow-runs/{run_id}", dependencies=[requires(Permission.VIEW)])
def get_workflow_run(run_id: str, session: Store) -> dict[str, Any]:
    """A workflow run with each task's state, run and reports (``workflow show --json``)."""
    run, tasks = show_workflow_run(session, run_id)
    return {**workflow_run_summary(run), "tasks": [task_summary(t) for t in tasks]}


@router.post("/workflow-runs/{run_id}/resume", status_code=202)
def post_workflow_resume(
    run_id: str, request: Request, repo: Repo, principal: Operator, once: Once
) -> JSONResponse:
    """Run again what did not succeed in ``run_id``, as a new run, in the background."""

    def work() -> dict[str, Any]:
        sessions = sessionmaker(request.app.state.engine)
        state = request.app.state
        run = launch_resume(
            state.background, sessions, repo, run_id, principal.user, state.artifacts
        )
        return workflow_run_summary(run)

    return once(work, status=202)
