"""``GET /runs``, ``/runs/{id}`` and ``/runs/{id}/cells``: ``runbook runs`` and ``log``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, read_session, repository
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.run import RunState
from runbook.orchestrate.views import run_log_seen, run_seen, runs_seen

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
# These routes only read (a sweep they trigger writes in a session of its own).
Store = Annotated[Session, Depends(read_session)]
Viewer = Annotated[Principal, requires(Permission.VIEW)]


@router.get("/runs")
def get_runs(
    repo: Repo,
    session: Store,
    principal: Viewer,
    plan: Annotated[str | None, Query(description="Only runs of this plan.")] = None,
    state: Annotated[RunState | None, Query(description="Only runs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Runs, newest first; a run whose process died is interrupted (``runbook runs --json``)."""
    return runs_seen(session, repo, principal, plan_id=plan, state=state, limit=limit)


@router.get("/runs/{run_id}")
def get_run(run_id: str, repo: Repo, session: Store, principal: Viewer) -> dict[str, Any]:
    """One run as recorded now."""
    return run_seen(session, repo, run_id, principal)


@router.get("/runs/{run_id}/cells")
def get_run_cells(run_id: str, repo: Repo, session: Store, principal: Viewer) -> dict[str, Any]:
    """One run with what happened to each cell (``runbook log --json``)."""
    return run_log_seen(session, repo, run_id, principal)
