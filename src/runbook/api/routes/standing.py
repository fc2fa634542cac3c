"""``/standing``: ``runbook approve-standing`` and ``runbook standing list|show|revoke``.
The reviewer who grants or revokes is the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.routes.bodies import StandingBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.standing_approvals import revoke
from runbook.orchestrate.standing_grants import grant_standing, standing_summary
from runbook.store.standing import get_standing, list_standing

router = APIRouter(
    tags=["standing approvals"], responses=CREATING_RESPONSES, route_class=StoreRoute
)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Reviewer = Annotated[Principal, requires(Permission.REVIEW)]


@router.post("/standing", status_code=201)
def post_standing(
    body: StandingBody, repo: Repo, session: Store, principal: Reviewer, once: Once
) -> JSONResponse:
    """Approve a runbook (or, with ``workflow``, a workflow) as it is now for unattended
    callers within bounds (``runbook approve-standing --json``)."""

    def work() -> dict[str, Any]:
        approval = grant_standing(
            session,
            repo,
            body.runbook,
            workflow=body.workflow,
            reviewer=principal.user,
            callers=body.callers,
            bounds=[f"{name}={bound}" for name, bound in body.bounds.items()],
            expires=body.expires,
            confirm_unattended=body.confirm_unattended,
            comment=body.comment,
        )
        return standing_summary(approval)

    return once(work)


@router.get("/standing", dependencies=[requires(Permission.VIEW)])
def get_standing_list(
    session: Store,
    runbook: Annotated[str | None, Query(description="Only those of this runbook path.")] = None,
) -> list[dict[str, Any]]:
    """Standing approvals, newest first, revoked and expired ones too."""
    return [standing_summary(a) for a in list_standing(session, runbook_path=runbook)]


@router.get("/standing/{approval_id}", dependencies=[requires(Permission.VIEW)])
def get_standing_one(approval_id: str, session: Store) -> dict[str, Any]:
    """One standing approval: its runbook and hash, callers, bounds, expiry."""
    return standing_summary(get_standing(session, approval_id))


@router.post("/standing/{approval_id}/revoke")
def post_standing_revoke(approval_id: str, session: Store, principal: Reviewer) -> dict[str, Any]:
    """Revoke it: plans it approved may no longer run. Revoking again changes nothing."""
    return standing_summary(revoke(session, approval_id, by=principal.user))
