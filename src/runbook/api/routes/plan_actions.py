"""``POST /plans``, ``GET /plans/{id}/diff`` and ``/plans/{id}/reviews``: ``runbook plan``
and ``review``. The planner and the reviewer are the caller, never a field of the body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.routes.bodies import PlanBody, ReviewBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.errors import ParameterError
from runbook.model.notebook import load_runbook
from runbook.model.repository import Repository
from runbook.model.review import parse_verdict
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.live_access import authorize_plan, authorize_runbook
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.reviewing import SignedVerdict, review_plan
from runbook.orchestrate.summaries import plan_summary, review_summary
from runbook.orchestrate.views import plan_diff_seen
from runbook.store.plans import get_plan
from runbook.store.reviews import list_reviews

router = APIRouter(tags=["plans"], responses=CREATING_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.post("/plans", status_code=201)
def post_plan(
    body: PlanBody,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, requires(Permission.PLAN)],
    once: Once,
) -> JSONResponse:
    """Bind a runbook to values and freeze it as a plan (``runbook plan --json``), with the
    warnings planning gave."""

    def work() -> dict[str, Any]:
        warnings: list[str] = []
        path = repo.find_runbook(body.runbook)
        authorize_runbook(principal, Permission.PLAN, load_runbook(path, repo.relative(path)))
        plan = plan_runbook(
            session,
            repo,
            path,
            body.parameters,
            planner=principal.user,
            warn=warnings.append,
            cwd=body.cwd,
            cwd_base=repo.root,
            force=body.force,
        )
        session.commit()
        return {**plan_summary(plan), "warnings": warnings}

    return once(work)


@router.get("/plans/{plan_id}/diff")
def get_plan_diff(
    plan_id: str,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, requires(Permission.VIEW)],
) -> dict[str, Any]:
    """The plan against its runbook (or a playbook's plan against its newest import), as
    ``runbook review`` shows it: unified diff lines, cell by cell (hidden from anonymous
    readers for a private runbook: it shows the values)."""
    return plan_diff_seen(session, repo, plan_id, principal)


@router.post("/plans/{plan_id}/reviews", status_code=201)
def post_review(
    plan_id: str,
    body: ReviewBody,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, requires(Permission.REVIEW)],
    once: Once,
) -> JSONResponse:
    """Record the caller's verdict on the plan (``runbook review --json``). A verdict signed
    with the caller's own SSH key (``nonce`` and ``signature``) is checked against the
    repository's allowed signers."""
    verdict = parse_verdict(body.verdict, "body.verdict")
    if (body.nonce is None) != (body.signature is None):
        missing = "body.nonce" if body.nonce is None else "body.signature"
        raise ParameterError(missing, "a signed verdict needs both nonce and signature")
    signed = (
        SignedVerdict(body.nonce, body.signature)
        if body.nonce is not None and body.signature is not None
        else None
    )

    def work() -> dict[str, object]:
        authorize_plan(session, principal, Permission.REVIEW, plan_id)
        review = review_plan(
            session,
            repo,
            plan_id,
            verdict,
            reviewer=principal.user,
            comment=body.comment,
            signed=signed,
            own_key=True,
            identity=principal.identity_kind,
        )
        return review_summary(review)

    return once(work)


@router.get("/plans/{plan_id}/reviews", dependencies=[requires(Permission.VIEW)])
def get_reviews(plan_id: str, session: Store) -> list[dict[str, object]]:
    """The verdicts recorded on the plan, oldest first."""
    return [review_summary(r) for r in list_reviews(session, get_plan(session, plan_id).id)]
