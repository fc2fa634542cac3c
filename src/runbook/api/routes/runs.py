"""``GET /runs``, ``/runs/{id}`` and ``/runs/{id}/cells``: ``runbook runs`` and ``log``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission
from runbook.model.run import RunState
from runbook.orchestrate.run_history import current_run, find_runs, show_run
from runbook.orchestrate.summaries import run_log_summary, run_summary

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.get("/runs", dependencies=[requires(Permission.VIEW)])
def get_runs(
    repo: Repo,
    session: Store,
    plan: Annotated[str | None, Query(description="Only runs of this plan.")] = None,
    state: Annotated[RunState | None, Query(description="Only runs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Runs, newest first; a run whose process died is interrupted (``runbook runs --json``)."""
    return [
        run_summary(r) for r in find_runs(session, repo, plan_id=plan, state=state, limit=limit)
    ]


@router.get("/runs/{run_id}", dependencies=[requires(Permission.VIEW)])
def get_run(run_id: str, repo: Repo, session: Store) -> dict[str, Any]:
    """One run as recorded now."""
    return run_summary(current_run(session, repo, run_id))


@router.get("/runs/{run_id}/cells", dependencies=[requires(Permission.VIEW)])
def get_run_cells(run_id: str, repo: Repo, session: Store) -> dict[str, Any]:
    """One run with what happened to each cell (``runbook log --json``)."""
    run, events = show_run(session, repo, run_id)
    return run_log_summary(run, events)
