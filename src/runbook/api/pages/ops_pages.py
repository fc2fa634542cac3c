"""Alerts and the audit log: incoming alerts with the matched procedure and what was done,
the catalog's gaps (alerts that matched nothing), and the audit log with its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from runbook.api.pages.guard import page_requires
from runbook.api.pages.paging import PAGE_SIZE, PageNumber, Paging, paged
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission
from runbook.orchestrate.audit_verify import verify_audit_log
from runbook.orchestrate.catalog.catalog_queries import alerts, gaps
from runbook.orchestrate.reading import latest_events
from runbook.orchestrate.summaries import event_summary, verdict_summary

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.get("/alerts", dependencies=[page_requires(Permission.VIEW)])
def get_alerts(
    request: Request,
    session: Store,
    gap: Annotated[bool, Query()] = False,
    page_number: PageNumber = 1,
) -> Response:
    """The alerts and what was done, newest first, a page at a time; with ``gap``, only
    those that matched nothing."""
    offset = Paging.offset(page_number)
    found = (gaps if gap else alerts)(session, limit=PAGE_SIZE + 1, offset=offset)
    shown, paging = paged(found, page_number)
    return page(request, "alerts.html", alerts=shown, gaps=gap, paging=paging)


@router.get("/audit", dependencies=[page_requires(Permission.AUDIT)])
async def get_audit(request: Request, repo: Repo) -> Response:
    """The latest audit events and whether the chain, its anchors and the records agree."""
    sessions = sessionmaker(request.app.state.engine)

    def read() -> tuple[list[dict[str, object]], dict[str, object]]:
        with sessions() as session:
            events = [event_summary(e) for e in latest_events(session, None, 200)]
        return events, verdict_summary(verify_audit_log(sessions, repo))

    events, verdict = await run_in_threadpool(read)
    return page(request, "audit.html", events=list(reversed(events)), verdict=verdict)
