"""``/livez``, ``/readyz`` and ``/metrics``: whether the process lives, whether it may take
requests, and what it and its store have done (Prometheus's text format)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import public, requires
from runbook.api.store import StoreRoute
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.service_health import readiness
from runbook.orchestrate.service_metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"], route_class=StoreRoute)


@router.get("/livez", dependencies=[public()])
def get_livez() -> dict[str, str]:
    """The process answers (nothing else is checked: a failing store is ``/readyz``'s)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    dependencies=[public()],
    responses={503: {"description": "A check failed: the body says which"}},
)
async def get_readyz(request: Request) -> JSONResponse:
    """Whether this process may take requests: its store reachable, its schema current,
    its executor able to start runs; 503 naming what is wrong otherwise."""
    state = request.app.state
    verdict = await run_in_threadpool(readiness, state.engine, state.run_pool)
    body: dict[str, Any] = {"status": "ok" if verdict.ready else "unready", **verdict.checks}
    return JSONResponse(body, status_code=200 if verdict.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **ERROR_RESPONSES},
)
async def get_metrics(
    request: Request, principal: Annotated[Principal, requires(Permission.VIEW)]
) -> Response:
    """Prometheus metrics: runs by state, run and cell durations, gate waits, the queue,
    and this process's HTTP requests by route and status (scrape with a viewer's token)."""
    exposition = await run_in_threadpool(request.app.state.metrics.exposition)
    return Response(exposition, media_type=CONTENT_TYPE)
