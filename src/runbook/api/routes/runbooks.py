"""``GET /runbooks`` and ``GET /runbooks/{name}``: what ``runbook list`` and ``show`` print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, repository
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.views import runbook_seen, runbooks_seen

router = APIRouter(tags=["runbooks"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Viewer = Annotated[Principal, requires(Permission.VIEW)]


@router.get("/runbooks")
def get_runbooks(repo: Repo, principal: Viewer) -> list[dict[str, Any]]:
    """The runbooks under ``runbooks/`` (``runbook list --json``)."""
    return runbooks_seen(repo, principal)


@router.get("/runbooks/{name:path}")
def get_runbook(name: str, repo: Repo, principal: Viewer) -> dict[str, Any]:
    """One runbook with its cells (``runbook show --json``)."""
    return runbook_seen(repo, name, principal)
