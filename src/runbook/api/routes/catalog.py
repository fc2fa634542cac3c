"""``/catalog``: look a procedure up, its URL for a ``runbook_url`` annotation, and the kill
switch of automated response (``runbook catalog lookup|why|runbook-url|pause|resume``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.routes.bodies import PauseBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.catalog.alert_matching import entry_url
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.catalog.catalog_queries import entry, pause, resume
from runbook.store.catalog_records import is_paused

router = APIRouter(tags=["catalog"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Admin = Annotated[Principal, requires(Permission.SETTINGS)]


def _labels(pairs: list[str]) -> dict[str, str] | None:
    found = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        found[name] = value
    return found or None


@router.get("/catalog/{service}/{code}", dependencies=[requires(Permission.VIEW)])
def get_entry(
    service: str,
    code: str,
    request: Request,
    repo: Repo,
    session: Store,
    label: Annotated[
        list[str], Query(description="NAME=VALUE: an alert label, for rules with matchers.")
    ] = [],  # noqa: B006 - FastAPI copies a query default
) -> dict[str, Any]:
    """The procedure answering CODE for SERVICE, with every candidate rule and why the
    winner won (``runbook catalog lookup|why --json``)."""
    return entry(session, service, code, base_url=_base(request, repo), labels=_labels(label))


@router.get("/catalog/{service}/{code}/runbook-url", dependencies=[requires(Permission.VIEW)])
def get_runbook_url(service: str, code: str, request: Request, repo: Repo) -> dict[str, str]:
    """The URL of the catalog entry, for a Prometheus rule's `runbook_url` annotation
    (``runbook catalog runbook-url``; `[catalog] base_url`, else the URL this was asked on)."""
    return {"url": entry_url(_base(request, repo), service, code)}


def _base(request: Request, repo: Repository) -> str:
    # Behind a proxy the URL a request arrived on may be an inner one: base_url says.
    return repo.config.catalog_base_url or str(request.base_url).rstrip("/")


@router.post("/catalog/pause")
def post_pause(session: Store, principal: Admin, body: PauseBody | None = None) -> dict[str, Any]:
    """Stop every automated response (the kill switch; audited): auto rules only suggest."""
    reason = body.reason if body is not None else None
    pause(session, by=principal.user, reason=reason)
    return {"paused": is_paused(session), "by": principal.user, "reason": reason}


@router.post("/catalog/resume")
def post_resume(session: Store, principal: Admin) -> dict[str, Any]:
    """Let auto rules run again (audited)."""
    resume(session, by=principal.user)
    return {"paused": is_paused(session), "by": principal.user}
