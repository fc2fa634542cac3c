"""``/playbooks``: ``runbook playbook import|list|show|plan``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from runbook.api.idempotent import CREATING_RESPONSES, Once
from runbook.api.permissions import requires
from runbook.api.routes.bodies import PlaybookImportBody, PlaybookPlanBody
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.playbooks.playbook_import import import_playbook
from runbook.orchestrate.playbooks.playbook_plans import plan_playbook
from runbook.orchestrate.playbooks.playbook_summaries import definition_summary
from runbook.orchestrate.summaries import plan_summary
from runbook.store.playbooks.playbook_definitions import get_definition, list_definitions

router = APIRouter(tags=["playbooks"], responses=CREATING_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]


@router.post("/playbooks/import", status_code=201)
def post_playbook_import(
    body: PlaybookImportBody,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, requires(Permission.IMPORT)],
    once: Once,
) -> JSONResponse:
    """Validate a playbook file of the repository and store it as the next revision of its
    name (``created`` false: identical to the newest, nothing stored)."""

    def work() -> dict[str, Any]:
        result = import_playbook(
            session, repo, body.path, imported_by=principal.user, base=repo.root
        )
        session.commit()
        return {**definition_summary(result.definition), "created": result.created}

    return once(work)


@router.get("/playbooks", dependencies=[requires(Permission.VIEW)])
def get_playbooks(session: Store) -> list[dict[str, Any]]:
    """Imported playbooks with their newest revision (``runbook playbook list --json``)."""
    return [definition_summary(d) for d in list_definitions(session)]


@router.get("/playbooks/{name}", dependencies=[requires(Permission.VIEW)])
def get_playbook(
    name: str,
    session: Store,
    version: Annotated[str | None, Query(description="The newest revision of version V.")] = None,
    revision: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Revision N exactly.")
    ] = None,
) -> dict[str, Any]:
    """A playbook as stored, its definition included (``runbook playbook show --json``)."""
    found = get_definition(session, name, version=version, revision=revision)
    return {**definition_summary(found), "definition": found.definition}


@router.post("/playbooks/{name}/plans", status_code=201)
def post_playbook_plan(
    name: str,
    body: PlaybookPlanBody,
    repo: Repo,
    session: Store,
    principal: Annotated[Principal, requires(Permission.PLAN)],
    once: Once,
) -> JSONResponse:
    """Freeze a revision of the playbook with its values into a plan to review, as a whole
    (``runbook playbook plan --json``)."""

    def work() -> dict[str, Any]:
        found = get_definition(session, name, version=body.version, revision=body.revision)
        plan = plan_playbook(session, repo, found, body.parameters, planner=principal.user)
        session.commit()
        return {**plan_summary(plan), "playbook": found.name, "revision": found.revision}

    return once(work)
