"""``POST /gc``: ``runbook gc``, for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import sessionmaker

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.routes.bodies import GcBody
from runbook.api.store import StoreRoute, repository
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.workflows.workflow_files import settings_for

router = APIRouter(tags=["operations"], responses=ERROR_RESPONSES, route_class=StoreRoute)


@router.post("/gc")
def post_gc(
    request: Request,
    repo: Annotated[Repository, Depends(repository)],
    principal: Annotated[Principal, requires(Permission.GC)],
    body: GcBody | None = None,
) -> dict[str, Any]:
    """Remove finished runs past their TTL ([retention]) and day-old idempotency keys
    (``runbook gc --json``); ``dry_run`` only says what would go."""
    dry_run = body.dry_run if body is not None else False
    report = collect_garbage(
        sessionmaker(request.app.state.engine),
        repo,
        settings_for(repo),
        actor=principal.user,
        dry_run=dry_run,
    )
    return report.to_json(dry_run=dry_run)
