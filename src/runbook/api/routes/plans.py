"""``GET /plans`` and ``GET /plans/{id}``: what ``runbook plans`` and ``show-plan`` print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission
from runbook.orchestrate.reading import list_plans, plan_details

router = APIRouter(tags=["plans"], responses=ERROR_RESPONSES)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.get("/plans", dependencies=[requires(Permission.VIEW)])
def get_plans(
    repo: Repo,
    session: Store,
    runbook: Annotated[str | None, Query(description="Only plans of this runbook.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Plans, newest first, with their review status (``runbook plans --json``)."""
    return list_plans(session, repo, runbook=runbook, limit=limit)


@router.get("/plans/{plan_id}", dependencies=[requires(Permission.VIEW)])
def get_plan(plan_id: str, repo: Repo, session: Store) -> dict[str, Any]:
    """A plan: values, hash, status, modules and reviews (``runbook show-plan --json``)."""
    return plan_details(session, repo, plan_id).to_json()
