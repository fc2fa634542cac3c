"""``GET /plans`` and ``GET /plans/{id}``: what ``runbook plans`` and ``show-plan`` print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.views import plan_seen, plans_seen

router = APIRouter(tags=["plans"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, requires(Permission.VIEW)]


@router.get("/plans")
def get_plans(
    repo: Repo,
    session: Store,
    principal: Viewer,
    runbook: Annotated[str | None, Query(description="Only plans of this runbook.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Plans, newest first, with their review status (``runbook plans --json``)."""
    return plans_seen(session, repo, principal, runbook=runbook, limit=limit)


@router.get("/plans/{plan_id}")
def get_plan(plan_id: str, repo: Repo, session: Store, principal: Viewer) -> dict[str, Any]:
    """A plan: values, hash, status, modules and reviews (``runbook show-plan --json``)."""
    return plan_seen(session, repo, plan_id, principal)
