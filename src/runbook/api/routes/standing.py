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
from runbook.errors import ParameterError
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.standing import StandingApproval
from runbook.orchestrate.standing_approvals import revoke
from runbook.orchestrate.standing_grants import draft_summary, grant_standing, standing_summary
from runbook.orchestrate.standing_signatures import SignedGrant
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
    callers within bounds (``runbook approve-standing --json``). Where reviews must be
    signed, send the draft's ``id`` and ``approved_at`` (``POST /standing/draft``) with
    ``signature``, the caller's SSH signature over its message."""
    signed = _signed_grant(body)

    def work() -> dict[str, Any]:
        return standing_summary(_grant(body, repo, session, principal, signed=signed))

    return once(work)


@router.post("/standing/draft")
def post_standing_draft(
    body: StandingBody, repo: Repo, session: Store, principal: Reviewer
) -> dict[str, Any]:
    """Build the standing approval ``POST /standing`` would grant, without recording it:
    its id, moment and the message to sign (``ssh-keygen -Y sign -n runbook-review``).
    Send them back within 15 minutes, with the signature, to grant it."""
    return draft_summary(_grant(body, repo, session, principal, draft=True))


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


def _grant(
    body: StandingBody,
    repo: Repository,
    session: Session,
    principal: Principal,
    *,
    signed: SignedGrant | None = None,
    draft: bool = False,
) -> StandingApproval:
    return grant_standing(
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
        identity=principal.identity_kind,
        signed=signed,
        draft=draft,
    )


def _signed_grant(body: StandingBody) -> SignedGrant | None:
    if body.id is not None and body.approved_at is not None and body.signature is not None:
        return SignedGrant(body.id, body.approved_at, body.signature)
    given = {"id": body.id, "approved_at": body.approved_at, "signature": body.signature}
    missing = [name for name, value in given.items() if value is None]
    if len(missing) == len(given):
        return None
    raise ParameterError(
        f"body.{missing[0]}", "a signed standing approval needs id, approved_at and signature"
    )
