"""``GET /runs/{id}/notebook``, ``/log`` and ``/report.{html|md}``: a run's shared artifacts.

Served from the artifact store (:mod:`runbook.orchestrate.run_artifacts`), so any server on
the same store serves the runs any other executed. A report is rendered from the stored
notebook through the report sanitizer and served with a Content-Security-Policy that
forbids script, fetches and framing.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute, repository, store_session
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.orchestrate.run_artifacts import (
    LOG_NAME,
    artifact_bytes,
    notebook_name,
    readable_run,
    served_report,
)
from runbook.store.artifacts import ArtifactStore

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Repo = Annotated[Repository, Depends(repository)]
Store = Annotated[Session, Depends(store_session)]
Viewer = Annotated[Principal, requires(Permission.VIEW)]

#: The report's own policy (see runbook.engine.report.CSP), and no framing by other pages.
REPORT_CSP: Final = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_MEDIA: Final = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8"}
_SAFE: Final = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": REPORT_CSP}


def _store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


Artifacts = Annotated[ArtifactStore, Depends(_store)]


@router.get(
    "/runs/{run_id}/notebook",
    response_class=Response,
    responses={200: {"content": {"application/x-ipynb+json": {}}}},
)
def get_run_notebook(
    run_id: str, repo: Repo, session: Store, store: Artifacts, principal: Viewer
) -> Response:
    """The run's executed notebook (outputs masked as they were recorded)."""
    run = readable_run(session, repo, run_id, principal)
    name = notebook_name(repo, run)
    headers = {**_SAFE, "Content-Disposition": f'attachment; filename="{name}"'}
    body = artifact_bytes(store, repo, run, name)
    return Response(body, media_type="application/x-ipynb+json", headers=headers)


@router.get(
    "/runs/{run_id}/log",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def get_run_log_file(
    run_id: str, repo: Repo, session: Store, store: Artifacts, principal: Viewer
) -> Response:
    """The run's cell log (``log.jsonl``: one JSON object a line)."""
    run = readable_run(session, repo, run_id, principal)
    body = artifact_bytes(store, repo, run, LOG_NAME)
    return Response(body, media_type="application/x-ndjson", headers=_SAFE)


@router.get(
    "/runs/{run_id}/report.{fmt}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
def get_run_report(
    run_id: str,
    fmt: Literal["html", "md"],
    repo: Repo,
    session: Store,
    store: Artifacts,
    principal: Viewer,
) -> Response:
    """The run's report (as ``runbook export --to html|md``), sanitized, with a strict CSP."""
    run = readable_run(session, repo, run_id, principal)
    text = served_report(session, repo, store, run, fmt)
    return Response(text, media_type=_MEDIA[fmt], headers=_SAFE)
