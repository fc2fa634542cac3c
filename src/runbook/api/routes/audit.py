"""``GET /audit`` and ``GET /audit/verify``: ``runbook audit log`` and ``audit verify``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission
from runbook.orchestrate.audit_verify import verify_audit_log
from runbook.orchestrate.reading import audit_subject, latest_events, tampered
from runbook.orchestrate.summaries import event_summary, verdict_summary

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.get("/audit", dependencies=[requires(Permission.AUDIT)])
def get_audit_log(
    session: Store,
    run: Annotated[str | None, Query(description="Only the events of this run.")] = None,
    plan: Annotated[str | None, Query(description="Only the events of this plan.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """The latest audit events, oldest first (``runbook audit log --json``)."""
    return [event_summary(e) for e in latest_events(session, audit_subject(run, plan), limit)]


@router.get(
    "/audit/verify",
    dependencies=[requires(Permission.AUDIT)],
    responses={409: {"description": "The audit log's chain, anchors or records disagree"}},
)
def get_audit_verify(request: Request, repo: Repo) -> dict[str, Any]:
    """Check the chain, its anchors and the records (``runbook audit verify --json``); a
    failed check is a 409 naming the first finding."""
    verdict = verify_audit_log(sessionmaker(request.app.state.engine), repo)
    if not verdict.ok:
        raise tampered(verdict)
    return verdict_summary(verdict)
