"""``/alerts``: the webhooks alert sources call, and the alert records (``runbook catalog
alerts|gaps``).

A webhook's sender proves its source's secret (:mod:`runbook.api.webhooks`), then the core
receives the body (:func:`runbook.orchestrate.catalog.receiving.receive_from`): idempotent
on each alert's fingerprint and ``startsAt``, so a retried delivery records nothing twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute
from runbook.api.webhooks import Delivery, source_secret
from runbook.model.roles import Permission
from runbook.orchestrate.catalog.alerts import Received
from runbook.orchestrate.catalog.catalog_queries import alerts, gaps
from runbook.orchestrate.catalog.receiving import receive_from
from runbook.store.db import session_scope

router = APIRouter(tags=["alerts"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, description="Skip this many (the next page).")]


async def _receive(request: Request, delivery: Delivery) -> dict[str, Any]:
    repository = request.app.state.repository
    sessions = sessionmaker(request.app.state.engine)
    # The store is written and plans made: off the event loop.
    received: list[Received] = await run_in_threadpool(
        receive_from, sessions, repository, delivery.source, delivery.body
    )
    return {
        "source": delivery.source.recorded_as,
        "alerts": [
            {"id": r.alert_id, "created": r.created, "action": r.action, "detail": r.detail}
            for r in received
        ],
    }


@router.post("/alerts/alertmanager/{source}")
async def post_alertmanager(
    request: Request, delivery: Annotated[Delivery, source_secret("alertmanager")]
) -> dict[str, Any]:
    """Prometheus Alertmanager's webhook (version 4, grouped, firing and resolved); the
    source's bearer token in `Authorization`."""
    return await _receive(request, delivery)


@router.post("/alerts/grafana/{source}")
async def post_grafana(
    request: Request, delivery: Annotated[Delivery, source_secret("grafana")]
) -> dict[str, Any]:
    """Grafana alerting's webhook contact point; a bearer token, or an HMAC of the body in
    the source's `header`."""
    return await _receive(request, delivery)


@router.post("/alerts/pagerduty/{source}")
async def post_pagerduty(
    request: Request, delivery: Annotated[Delivery, source_secret("pagerduty")]
) -> dict[str, Any]:
    """A PagerDuty v3 webhook subscription; `X-PagerDuty-Signature` (v1=HMAC-SHA256) is
    verified."""
    return await _receive(request, delivery)


@router.post("/alerts/generic/{source}")
async def post_generic(
    request: Request, delivery: Annotated[Delivery, source_secret("generic")]
) -> dict[str, Any]:
    """Any JSON alert, read through the source's declared label mapping."""
    return await _receive(request, delivery)


@router.get("/alerts", dependencies=[requires(Permission.VIEW)])
def get_alerts(
    request: Request,
    limit: Limit = 100,
    offset: Offset = 0,
    action: Annotated[
        str | None, Query(description="gap, suppressed, manual, suggest, auto, failed.")
    ] = None,
    service: Annotated[str | None, Query(description="Only this service's.")] = None,
    code: Annotated[str | None, Query(description="Only this error code's.")] = None,
    status: Annotated[str | None, Query(description="firing or resolved.")] = None,
) -> list[dict[str, Any]]:
    """Alerts received, newest first, with what was done (``runbook catalog alerts --json``)."""
    with session_scope(request.app.state.engine) as session:
        return alerts(
            session,
            action=action,
            limit=limit,
            offset=offset,
            service=service,
            code=code,
            status=status,
        )


@router.get("/alerts/gaps", dependencies=[requires(Permission.VIEW)])
def get_gaps(request: Request, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """Alerts the catalog had no procedure for: its gaps (``runbook catalog gaps --json``)."""
    with session_scope(request.app.state.engine) as session:
        return gaps(session, limit=limit, offset=offset)
