"""``/playbooks/{name}/runs`` and ``/playbook-runs``: ``runbook playbook run|runs|status|
retry|cancel``. A run started here is recorded (its targets PENDING) before the answer
(202) and goes on in the server's background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.routes.bodies import CancelBody, PlaybookRunBody, RetryBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.playbooks.playbook_run import PlaybookRun, PlaybookRunState
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.playbooks.fleet import PlaybookRequest, cancel_playbook
from runbook.orchestrate.playbooks.playbook_history import find_playbook_runs, playbook_status
from runbook.orchestrate.playbooks.playbook_launch import launch_playbook, launch_retry
from runbook.orchestrate.playbooks.playbook_summaries import playbook_run_summary, target_summary
from runbook.store.playbooks.playbook_definitions import get_definition

router = APIRouter(tags=["playbooks"], responses=CREATING_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Operator = Annotated[Principal, requires(Permission.RUN)]


def _with_targets(session: Session, run: PlaybookRun) -> dict[str, Any]:
    """The run as recorded now, and the request's transaction ended: the response is kept
    (``Idempotency-Key``) in a transaction of its own, which on SQLite would wait for it."""
    session.commit()  # a snapshot taken before the run was recorded would not see it
    run, targets = playbook_status(session, run.id)
    session.commit()
    return {**playbook_run_summary(run), "targets": [target_summary(t) for t in targets]}


@router.post("/playbooks/{name}/runs", status_code=202)
def post_playbook_run(
    name: str,
    body: PlaybookRunBody,
    request: Request,
    repo: Repo,
    session: Store,
    principal: Operator,
    once: Once,
) -> JSONResponse:
    """Run an imported revision of the playbook across its inventory (or, with ``plan``,
    a reviewed plan of it), in the background: the run and its targets as recorded."""

    def work() -> dict[str, Any]:
        found = get_definition(session, name, version=body.version, revision=body.revision)
        # Nothing of this request's may hold the store while the run records itself (on
        # SQLite every transaction takes the write lock).
        session.commit()
        started = PlaybookRequest(
            definition=found,
            started_by=principal.user,
            parameters=body.parameters,
            yes=body.yes,
            plan_id=body.plan,
        )
        sessions = sessionmaker(request.app.state.engine)
        state = request.app.state
        run = launch_playbook(state.background, sessions, repo, started, state.artifacts)
        return _with_targets(session, run)

    return once(work, status=202)


@router.get("/playbook-runs", dependencies=[requires(Permission.VIEW)])
def get_playbook_runs(
    session: Store,
    playbook: Annotated[str | None, Query(description="Only runs of this playbook.")] = None,
    state: Annotated[PlaybookRunState | None, Query(description="Only runs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Playbook runs, newest first (``runbook playbook runs --json``)."""
    runs = find_playbook_runs(session, playbook=playbook, state=state, limit=limit)
    return [playbook_run_summary(run) for run in runs]


@router.get("/playbook-runs/{run_id}", dependencies=[requires(Permission.VIEW)])
def get_playbook_run(run_id: str, session: Store) -> dict[str, Any]:
    """A playbook run with each target's batch, state and message (``playbook status``)."""
    run, targets = playbook_status(session, run_id)
    return {**playbook_run_summary(run), "targets": [target_summary(t) for t in targets]}


@router.post("/playbook-runs/{run_id}/retry", status_code=202)
def post_playbook_retry(
    run_id: str,
    request: Request,
    repo: Repo,
    session: Store,
    principal: Operator,
    once: Once,
    body: RetryBody | None = None,
) -> JSONResponse:
    """Run the FAILED targets of ``run_id`` again, as a new run, in the background."""
    yes = body.yes if body is not None else False

    def work() -> dict[str, Any]:
        sessions = sessionmaker(request.app.state.engine)
        state = request.app.state
        run = launch_retry(
            state.background,
            sessions,
            repo,
            run_id,
            principal.user,
            yes=yes,
            artifacts=state.artifacts,
        )
        return _with_targets(session, run)

    return once(work, status=202)


@router.post("/playbook-runs/{run_id}/cancel")
def post_playbook_cancel(
    run_id: str, session: Store, principal: Operator, body: CancelBody | None = None
) -> dict[str, Any]:
    """Ask the run to stop: no new target starts (with ``interrupt``, running ones stop
    too). Its process acts within about a second; 422 when it has already ended."""
    interrupt = body.interrupt if body is not None else False
    run = cancel_playbook(session, run_id, interrupt=interrupt, by=principal.user)
    session.commit()
    return playbook_run_summary(run)
