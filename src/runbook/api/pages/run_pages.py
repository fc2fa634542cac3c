"""The run pages: the list, a live run (its events over server-sent events, its gate
decided with a fetch), and its report.

The live page's script (``static/run.js``) follows ``GET /ui/runs/{id}/events``, the same
stream as the API's ``/runs/{id}/events`` for a visitor signed in with a cookie, and shows
every output with ``textContent``: what a cell printed is text, never markup. The report
is the sanitized HTML the engine wrote, served under a CSP that forbids all script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from runbook.api.pages.guard import Form, page_requires
from runbook.api.pages.paging import PAGE_SIZE, PageNumber, Paging, paged
from runbook.api.pages.safety import PREFIX, REPORT_CSP
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.gates import RunEvent, event_to_json, gate_to_json, parse_cell
from runbook.model.redaction import hides_private, plan_tags
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal, allows
from runbook.model.run import Decision
from runbook.orchestrate.live_access import authorize_run
from runbook.orchestrate.live_events import stream_events
from runbook.orchestrate.remote_gates import decide_gate
from runbook.orchestrate.run_artifacts import readable_run
from runbook.orchestrate.views import run_seen, runs_seen
from runbook.store.plans import get_plan

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, page_requires(Permission.VIEW)]


def planned_cells(content: str) -> list[dict[str, object]]:
    """The cells of a plan's frozen notebook (its canonical JSON): index, type, tags, source;
    the run page shows each once it starts."""
    notebook = json.loads(content)
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        source = cell.get("source", "")
        tags = cell.get("metadata", {}).get("tags", [])
        cells.append(
            {
                "index": index,
                "type": cell.get("cell_type", "code"),
                "tags": tags,
                "source": "".join(source) if isinstance(source, list) else str(source),
            }
        )
    return cells


@router.get("/runs")
def get_runs(
    request: Request, repo: Repo, session: Store, principal: Viewer, page_number: PageNumber = 1
) -> Response:
    """The runs with their state, newest first, a page at a time."""
    offset = Paging.offset(page_number)
    found = runs_seen(session, repo, principal, limit=PAGE_SIZE + 1, offset=offset)
    runs, paging = paged(found, page_number)
    return page(request, "runs.html", runs=runs, paging=paging)


@router.get("/runs/{run_id}")
def get_run_page(
    run_id: str, request: Request, repo: Repo, session: Store, principal: Viewer
) -> Response:
    """A run as it happens: cells appear as they execute, outputs stream in, and a gate
    shows its cell and values with the decisions the visitor may make."""
    shown = run_seen(session, repo, run_id, principal)
    plan = get_plan(session, shown["plan"])
    hidden = hides_private(principal, plan_tags(plan))
    return page(
        request,
        "run.html",
        run=shown,
        cells=[] if hidden else planned_cells(plan.content),
        may_decide=allows(principal, Permission.CONFIRM),
    )


@router.get("/runs/{run_id}/events", dependencies=[page_requires(Permission.VIEW)])
async def get_run_events(run_id: str, request: Request) -> StreamingResponse:
    """The run's events as server-sent events, resumable with ``Last-Event-ID``."""
    last = request.headers.get("last-event-id", "").strip()
    start = int(last) if last.isdigit() else 0
    sessions = sessionmaker(request.app.state.engine)
    principal: Principal = request.state.principal
    repo: Repository = request.app.state.repository

    def opened() -> Iterator[RunEvent]:
        with sessions() as session:
            readable_run(session, repo, run_id, principal)  # a private run's: not anonymously
        return stream_events(sessions, run_id, start)

    events = await run_in_threadpool(opened)
    return StreamingResponse(_stream(events), media_type="text/event-stream")


def _stream(events: Iterator[RunEvent]) -> Iterator[str]:
    for event in events:
        data = json.dumps(event_to_json(event), ensure_ascii=False)
        yield f"id: {event.seq}\nevent: {event.kind.value}\ndata: {data}\n\n"


@router.post("/runs/{run_id}/gates/{cell}")
def post_gate(
    run_id: str,
    cell: str,
    session: Store,
    principal: Annotated[Principal, page_requires(Permission.CONFIRM)],
    form: Form,
) -> dict[str, object]:
    """Decide the gate the run waits at ``cell`` (from the run page's buttons)."""
    try:
        decision = Decision(form.get("decision", ""))
    except ValueError:
        raise HTTPException(422, f"{form.get('decision', '')!r} is not a decision") from None
    authorize_run(session, principal, Permission.CONFIRM, run_id)
    decided = decide_gate(session, run_id, parse_cell(cell), decision, principal.user)
    return gate_to_json(decided)


@router.get("/runs/{run_id}/report")
def get_report(run_id: str, repo: Repo, session: Store, principal: Viewer) -> Response:
    """The run's HTML report (sanitized when written), under a CSP with no script at all."""
    from runbook.engine.report import report_path  # nbconvert: only when a report is read

    run = readable_run(session, repo, run_id, principal)
    path = report_path(repo.root, run, "html")
    if not path.is_file():
        raise HTTPException(404, f"run {run_id} has no HTML report (yet)")
    html = path.read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"content-security-policy": REPORT_CSP})
