"""``GET /runbooks`` and ``GET /runbooks/{name}``: what ``runbook list`` and ``show`` print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import repository
from runbook.model.repository import Repository
from runbook.model.roles import Permission
from runbook.orchestrate.reading import list_runbooks, runbook_details

router = APIRouter(tags=["runbooks"], responses=ERROR_RESPONSES)
Repo = Annotated[Repository, Depends(repository)]


@router.get("/runbooks", dependencies=[requires(Permission.VIEW)])
def get_runbooks(repo: Repo) -> list[dict[str, Any]]:
    """The runbooks under ``runbooks/`` (``runbook list --json``)."""
    return list_runbooks(repo)


@router.get("/runbooks/{name:path}", dependencies=[requires(Permission.VIEW)])
def get_runbook(name: str, repo: Repo) -> dict[str, Any]:
    """One runbook with its cells (``runbook show --json``)."""
    return runbook_details(repo, name)
