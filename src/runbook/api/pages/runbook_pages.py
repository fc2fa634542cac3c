"""The runbook pages: the list, one runbook (rendered read-only, its parameters, its plans
and runs), and the plan form, whose values the core checks field by field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from runbook.api.pages.guard import Form, page_requires
from runbook.api.pages.rendering import field_errors, shown_cells, shown_parameters
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.errors import ParameterError, UsageError
from runbook.model.notebook import load_runbook
from runbook.model.parameters import coerce
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.views import plans_seen, runbook_seen, runbooks_seen, runs_seen

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, page_requires(Permission.VIEW)]
Planner = Annotated[Principal, page_requires(Permission.PLAN)]


@router.get("/", dependencies=[page_requires(Permission.VIEW)])
def get_start() -> Response:
    """The start page: finding the procedure."""
    return RedirectResponse(f"{PREFIX}/search", status_code=303)


@router.get("/runbooks")
def get_runbooks(request: Request, repo: Repo, principal: Viewer) -> Response:
    """Every runbook, with its title, tags and parameters."""
    return page(request, "runbooks.html", runbooks=runbooks_seen(repo, principal))


def history(
    session: Session, repo: Repository, principal: Principal, name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The newest plans of runbook ``name`` and the newest runs of those plans."""
    plans = plans_seen(session, repo, principal, runbook=name, limit=20)
    runs = [
        run
        for plan in plans
        for run in runs_seen(session, repo, principal, plan_id=plan["id"], limit=5)
    ]
    runs.sort(key=lambda run: run["started_at"], reverse=True)
    return plans, runs[:20]


def runbook_page(
    request: Request,
    session: Session,
    repo: Repository,
    principal: Principal,
    name: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """One runbook's page (with the plan form's values and errors when it was refused)."""
    details = runbook_seen(repo, name, principal)
    plans, runs = history(session, repo, principal, name)
    return page(
        request,
        "runbook.html",
        status_code=422 if errors else 200,
        runbook=details,
        cells=shown_cells(details.get("cells") or []),
        parameters=shown_parameters(details.get("parameters") or {}),
        plans=plans,
        runs=runs,
        values=values or {},
        errors=errors or {},
    )


@router.get("/runbooks/{name:path}")
def get_runbook(
    name: str, request: Request, repo: Repo, session: Store, principal: Viewer
) -> Response:
    """One runbook: rendered cells, typed parameters with their help, plans and runs."""
    return runbook_page(request, session, repo, principal, name)


def _check_fields(repo: Repository, name: str, given: dict[str, str]) -> dict[str, str]:
    """Each given value checked against its parameter's type: a message per wrong field."""
    runbook = load_runbook(repo.find_runbook(name), name)
    errors: dict[str, str] = {}
    for field, raw in given.items():
        spec = runbook.parameters.get(field)
        if spec is None:
            continue
        try:
            coerce(spec, raw, "form")
        except ParameterError as error:
            errors[field] = error.reason
    return errors


@router.post("/plans")
def post_plan(
    request: Request, repo: Repo, session: Store, principal: Planner, form: Form
) -> Response:
    """Plan the runbook with the form's values; the runbook page again, with a message next
    to each wrong field, when the core refuses them."""
    name = form.get("runbook", "")
    given = {
        key.removeprefix("p."): value
        for key, value in form.items()
        if key.startswith("p.") and value.strip() != ""
    }
    errors = _check_fields(repo, name, given)
    if not errors:
        try:
            plan = plan_runbook(
                session, repo, repo.find_runbook(name), given, planner=principal.user
            )
            session.commit()
            return RedirectResponse(f"{PREFIX}/plans/{plan.id}", status_code=303)
        except UsageError as error:
            session.rollback()
            errors = field_errors(error, set(given) | set(_parameter_names(repo, name)))
    shown = {key.removeprefix("p."): v for key, v in form.items() if key.startswith("p.")}
    return runbook_page(request, session, repo, principal, name, values=shown, errors=errors)


def _parameter_names(repo: Repository, name: str) -> list[str]:
    return list(load_runbook(repo.find_runbook(name), name).parameters)
