"""Live runs over HTTP: start one, follow its events, decide its gates, stop it.

``POST /runs`` starts a plan in a run process of its own (a pooled one when one fits) and
answers with its id once it is recorded; ``GET /runs/{id}/events`` streams its events as
server-sent events, ``id:`` being the run's sequence number, so that a client reconnecting
with ``Last-Event-ID`` resumes with the next one; ``POST /runs/{id}/gates/{cell}`` decides
the gate it waits at; ``/cancel`` and ``/interrupt`` send it a request. Thin edges over
:mod:`runbook.orchestrate.live_runs`, :mod:`~runbook.orchestrate.live_events`,
:mod:`~runbook.orchestrate.remote_gates` and :mod:`~runbook.orchestrate.run_controls`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.gates import RunEvent, event_to_json, gate_to_json, parse_cell
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.run import Decision, RunMode
from runbook.orchestrate.live_access import authorize_run
from runbook.orchestrate.live_events import stream_events
from runbook.orchestrate.live_runs import LiveRunRequest
from runbook.orchestrate.remote_gates import decide_gate
from runbook.orchestrate.run_controls import ControlKind, request_control
from runbook.orchestrate.run_pool import start_service_run
from runbook.store.db import read_only

router = APIRouter(tags=["live runs"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Runner = Annotated[Principal, requires(Permission.RUN)]
Decider = Annotated[Principal, requires(Permission.CONFIRM)]


class StartRun(BaseModel):
    """What ``POST /runs`` starts."""

    plan: str = Field(description="The plan to run.")
    mode: RunMode = Field(
        default=RunMode.INTERACTIVE,
        description="interactive (gates decided through the API) or dry-run.",
    )
    gate_by_other: bool = Field(
        default=False, description="Every gate needs someone other than the caller."
    )
    timeout: float | None = Field(default=None, gt=0, description="Seconds a cell may take.")


class GateDecision(BaseModel):
    """What ``POST /runs/{id}/gates/{cell}`` decides."""

    decision: Decision


class StopReason(BaseModel):
    """Why a run is cancelled or interrupted (optional)."""

    reason: str | None = Field(default=None, max_length=1000)


@router.post("/runs", status_code=201, responses=CREATING_RESPONSES)
def post_run(
    body: StartRun, request: Request, repo: Repo, principal: Runner, once: Once
) -> JSONResponse:
    """Start a plan in a process of its own; its id once it is recorded and holds its lease.

    With an ``Idempotency-Key``, a retried request answers the first run's id again and
    starts nothing (``Idempotent-Replayed: true``)."""
    live = LiveRunRequest(body.plan, principal.user, body.mode, body.gate_by_other, body.timeout)
    pool = getattr(request.app.state, "run_pool", None)
    engine = request.app.state.engine
    artifacts = request.app.state.artifacts

    def work() -> dict[str, Any]:
        started = start_service_run(repo, engine, live, pool, principal, artifacts)
        return {"run": started.run_id, "plan": body.plan, "executor": principal.user}

    return once(work, status=201)


@router.get(
    "/runs/{run_id}/events",
    dependencies=[requires(Permission.VIEW)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def get_run_events(
    run_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Header(description="Resume after this event.")] = None,
    after: Annotated[int, Query(ge=0, description="Start after this sequence number.")] = 0,
) -> StreamingResponse:
    """The run's events as server-sent events (``id:`` its sequence number), to its end."""
    start = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else after
    # No request-long session: the stream outlives the request's dependencies. Read-only:
    # on SQLite its polls must not take the write lock the run's process writes under.
    sessions = sessionmaker(read_only(request.app.state.engine))
    events = await run_in_threadpool(stream_events, sessions, run_id, start)
    return StreamingResponse(_stream(events), media_type="text/event-stream")


def _stream(events: Iterator[RunEvent]) -> Iterator[str]:
    for event in events:
        data = json.dumps(event_to_json(event), ensure_ascii=False)
        yield f"id: {event.seq}\nevent: {event.kind.value}\ndata: {data}\n\n"


@router.post("/runs/{run_id}/gates/{cell}")
def post_gate(
    run_id: str, cell: str, body: GateDecision, session: Store, principal: Decider
) -> dict[str, Any]:
    """Decide the gate the run waits at ``cell`` (its number or id)."""
    authorize_run(session, principal, Permission.CONFIRM, run_id)
    decided = decide_gate(session, run_id, parse_cell(cell), body.decision, principal.user)
    return gate_to_json(decided)


@router.post("/runs/{run_id}/cancel", status_code=202)
def post_cancel(
    run_id: str, session: Store, principal: Runner, body: StopReason | None = None
) -> dict[str, Any]:
    """Cancel the run: its cell is interrupted and it ends aborted."""
    authorize_run(session, principal, Permission.RUN, run_id)
    reason = body.reason if body else None
    request_control(session, run_id, ControlKind.CANCEL, principal.user, reason)
    return {"run": run_id, "requested": ControlKind.CANCEL.value, "by": principal.user}


@router.post("/runs/{run_id}/interrupt", status_code=202)
def post_interrupt(
    run_id: str, session: Store, principal: Runner, body: StopReason | None = None
) -> dict[str, Any]:
    """Interrupt the run's executing cell; the run then waits at an interrupt gate."""
    authorize_run(session, principal, Permission.RUN, run_id)
    reason = body.reason if body else None
    request_control(session, run_id, ControlKind.INTERRUPT, principal.user, reason)
    return {"run": run_id, "requested": ControlKind.INTERRUPT.value, "by": principal.user}
