"""Finding the procedure: the search page (service and error code with completion, or free
text over titles, codes and runbook content) and the catalog entry page (the code, the
procedure that applies and why, the runbook, recent alerts and runs, and a "plan it" form,
prefilled from an alert when reached from one). Reads :mod:`runbook.orchestrate.catalog`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from runbook.api.pages.guard import page_requires
from runbook.api.pages.rendering import shown_cells, shown_parameters
from runbook.api.pages.runbook_pages import history
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, repository, store_session
from runbook.errors import RunbookError, UnknownCatalogEntryError
from runbook.model.catalog.mapping import render_mapping
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.catalog.catalog_queries import alerts, entry, list_catalog
from runbook.orchestrate.views import runbook_seen, runbooks_seen
from runbook.store.catalog_records import alert_to_json, get_alert

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, page_requires(Permission.VIEW)]
Text = Annotated[str, Query(max_length=200)]


def _catalog(session: Session) -> dict[str, Any] | None:
    try:
        return list_catalog(session)
    except UnknownCatalogEntryError:
        return None  # nothing imported yet: the page says so


def _matches(
    repo: Repository, principal: Principal, catalog: dict[str, Any] | None, text: str
) -> list[dict[str, str]]:
    """What ``text`` is found in: error codes, services, runbooks (title and cells)."""
    needle = text.casefold()
    found: list[dict[str, str]] = []
    for code in (catalog or {}).get("error_codes", []):
        words = " ".join(str(code.get(k) or "") for k in ("code", "title", "description"))
        if needle in words.casefold():
            found.append({"kind": "error code", "name": code["code"], "title": code["title"]})
    for service in (catalog or {}).get("services", []):
        if needle in f"{service['name']} {service['team'] or ''}".casefold():
            found.append({"kind": "service", "name": service["name"], "title": ""})
    for summary in runbooks_seen(repo, principal):
        shown = runbook_seen(repo, summary["name"], principal)
        words = " ".join([shown["title"], shown["name"], *(c["source"] for c in shown["cells"])])
        if needle in words.casefold():
            found.append({"kind": "runbook", "name": shown["name"], "title": shown["title"]})
    return found


@router.get("/search")
def get_search(
    request: Request,
    repo: Repo,
    session: Store,
    principal: Viewer,
    service: Text = "",
    code: Text = "",
    q: Text = "",
) -> Response:
    """Search by service and error code (completed from the catalog) or by free text."""
    if service.strip() and code.strip():
        where = f"{quote(service.strip(), safe='')}/{quote(code.strip(), safe='')}"
        return RedirectResponse(f"{PREFIX}/catalog/{where}", status_code=303)
    catalog = _catalog(session)
    results = _matches(repo, principal, catalog, q.strip()) if q.strip() else []
    return page(
        request,
        "search.html",
        catalog=catalog,
        service=service,
        code=code,
        q=q,
        results=results,
    )


def _prefill(
    session: Session, procedure: dict[str, Any], service: str, code: str, alert_id: str | None
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The form's values mapped from the alert's labels (as automation would), and the alert."""
    if not alert_id:
        return {}, None
    shown = alert_to_json(get_alert(session, alert_id))
    values: dict[str, str] = {}
    for name, text in procedure["parameters"].items():
        try:
            values[name] = render_mapping(
                text,
                labels=shown["labels"],
                annotations=shown["annotations"],
                service={"name": service},
                code=code,
            )
        except RunbookError:
            continue  # a label the alert lacks: the field stays for the planner to fill
    return values, shown


@router.get("/catalog/{service}/{code}")
def get_entry(
    service: str,
    code: str,
    request: Request,
    repo: Repo,
    session: Store,
    principal: Viewer,
    alert: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """One catalog entry: the code, the procedure that applies and why, its runbook, recent
    alerts and runs, and the plan form."""
    shown = entry(session, service, code)
    procedure = shown["procedure"]
    runbook = cells = parameters = None
    plans: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    from_alert = None
    if procedure is not None:
        runbook = runbook_seen(repo, procedure["runbook"], principal)
        cells = shown_cells(runbook.get("cells") or [])
        parameters = shown_parameters(runbook.get("parameters") or {})
        plans, runs = history(session, repo, principal, procedure["runbook"])
        values, from_alert = _prefill(session, procedure, service, code, alert)
    recent = [a for a in alerts(session, limit=500) if (a["service"], a["code"]) == (service, code)]
    return page(
        request,
        "entry.html",
        entry=shown,
        runbook=runbook,
        cells=cells,
        parameters=parameters,
        plans=plans,
        runs=runs,
        alerts=recent[:20],
        values=values,
        errors={},
        from_alert=from_alert,
    )
