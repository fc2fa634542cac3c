"""The playbook run pages: the list, and one run as a grid of its targets by batch and
state with a progress bar and inventory drift (``ADDED``/``REMOVED``) marked; operators
retry the failed targets (a new run) or cancel a running one. A running playbook's page
reloads itself every few seconds (a ``<meta>`` refresh: no script)."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.pages.guard import Form, page_requires
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.playbooks.fleet import cancel_playbook
from runbook.orchestrate.playbooks.playbook_history import find_playbook_runs, playbook_status
from runbook.orchestrate.playbooks.playbook_launch import launch_retry
from runbook.orchestrate.playbooks.playbook_summaries import playbook_run_summary, target_summary

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Operator = Annotated[Principal, page_requires(Permission.RUN)]
#: The states a target ends in: what the progress bar counts as done.
DONE: Final = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "INTERRUPTED"})


@router.get("/playbook-runs", dependencies=[page_requires(Permission.VIEW)])
def get_playbook_runs(request: Request, session: Store) -> Response:
    """The newest playbook runs."""
    runs = [playbook_run_summary(r) for r in find_playbook_runs(session, limit=100)]
    return page(request, "playbook_runs.html", runs=runs)


@router.get("/playbook-runs/{run_id}", dependencies=[page_requires(Permission.VIEW)])
def get_playbook_run(run_id: str, request: Request, session: Store) -> Response:
    """One playbook run: its targets by batch and state, its progress, its drift."""
    run, targets = playbook_status(session, run_id)
    shown = [target_summary(t) for t in targets]
    ordered = sorted(shown, key=lambda t: (t["batch"] is None, t["batch"] or 0, t["name"]))
    batches: list[tuple[Any, list[dict[str, Any]]]] = [
        (batch, list(group)) for batch, group in groupby(ordered, key=lambda t: t["batch"])
    ]
    return page(
        request,
        "playbook_run.html",
        run=playbook_run_summary(run),
        batches=batches,
        done=sum(1 for t in shown if t["state"] in DONE),
        total=len(shown),
        failed=sum(1 for t in shown if t["state"] == "FAILED"),
    )


@router.post("/playbook-runs/{run_id}/retry")
def post_retry(
    run_id: str, request: Request, repo: Repo, principal: Operator, form: Form
) -> Response:
    """Run the failed targets again, as a new run in the server's background."""
    sessions = sessionmaker(request.app.state.engine)
    background = request.app.state.background
    run = launch_retry(background, sessions, repo, run_id, principal.user, yes=False)
    return RedirectResponse(f"{PREFIX}/playbook-runs/{run.id}", status_code=303)


@router.post("/playbook-runs/{run_id}/cancel")
def post_cancel(run_id: str, session: Store, principal: Operator, form: Form) -> Response:
    """Ask the run to stop: no new target starts (``interrupt``: running ones stop too)."""
    interrupt = form.get("interrupt") == "yes"
    cancel_playbook(session, run_id, interrupt=interrupt, by=principal.user)
    session.commit()
    return RedirectResponse(f"{PREFIX}/playbook-runs/{run_id}", status_code=303)
