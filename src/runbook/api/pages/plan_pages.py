"""The plan pages: the list, one plan (values, diff against its runbook, reviews with the
identity kind and signature), a reviewer's verdict with a comment, and starting its run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from runbook.api.pages.guard import Form, page_requires
from runbook.api.pages.paging import PAGE_SIZE, PageNumber, Paging, paged
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.identity import identity_key
from runbook.model.repository import Repository
from runbook.model.review import parse_verdict
from runbook.model.roles import Permission, Principal
from runbook.model.run import RunMode
from runbook.orchestrate.live_runs import LiveRunRequest
from runbook.orchestrate.reviewing import review_plan
from runbook.orchestrate.run_pool import start_service_run
from runbook.orchestrate.views import plan_diff_seen, plan_seen, plans_seen, runs_seen

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, page_requires(Permission.VIEW)]


@router.get("/plans")
def get_plans(
    request: Request, repo: Repo, session: Store, principal: Viewer, page_number: PageNumber = 1
) -> Response:
    """The plans with their review status, newest first, a page at a time."""
    offset = Paging.offset(page_number)
    found = plans_seen(session, repo, principal, limit=PAGE_SIZE + 1, offset=offset)
    plans, paging = paged(found, page_number)
    return page(request, "plans.html", plans=plans, paging=paging)


@router.get("/plans/{plan_id}")
def get_plan_page(
    plan_id: str, request: Request, repo: Repo, session: Store, principal: Viewer
) -> Response:
    """One plan: its values, its diff against the runbook, its reviews and its runs."""
    shown = plan_seen(session, repo, plan_id, principal)
    own = identity_key(str(shown["planned_by"])) == principal.key
    diff = plan_diff_seen(session, repo, plan_id, principal)
    return page(
        request,
        "plan.html",
        plan=shown,
        diff=diff,
        runs=runs_seen(session, repo, principal, plan_id=plan_id, limit=20),
        own=own,
    )


@router.post("/plans/{plan_id}/reviews")
def post_review(
    plan_id: str,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, page_requires(Permission.REVIEW)],
    form: Form,
) -> Response:
    """Record the visitor's verdict (approve or reject) with their comment."""
    verdict = parse_verdict(form.get("verdict", ""), "form.verdict")
    comment = form.get("comment", "").strip() or None
    review_plan(session, repo, plan_id, verdict, reviewer=principal.user, comment=comment)
    session.commit()
    return RedirectResponse(f"{PREFIX}/plans/{plan_id}", status_code=303)


@router.post("/plans/{plan_id}/runs")
async def post_run(
    plan_id: str,
    request: Request,
    repo: Repo,
    principal: Annotated[Principal, page_requires(Permission.RUN)],
    form: Form,
) -> Response:
    """Start the plan in a run process of the server's, gates decided on its run page."""
    live = LiveRunRequest(plan_id, principal.user, RunMode.INTERACTIVE, False, None)
    pool = getattr(request.app.state, "run_pool", None)
    engine = request.app.state.engine
    started = await run_in_threadpool(start_service_run, repo, engine, live, pool, principal)
    return RedirectResponse(f"{PREFIX}/runs/{started.run_id}", status_code=303)
