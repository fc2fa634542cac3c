"""``/sessions``, ``/environments`` and ``/autosave``: a caller's editing sessions.

A session belongs to its owner: another caller is told it does not exist (404), an admin
may name an ``owner``. The work is the core's (:mod:`runbook.orchestrate.sessions`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import HTTPConnection

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.routes.bodies import SessionBody
from runbook.api.store import StoreRoute, repository
from runbook.errors import UnknownSessionError
from runbook.model.identity import identity_key
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal, Role
from runbook.orchestrate.sessions.backend import SessionBackend
from runbook.orchestrate.sessions.environments import environment_seen

router = APIRouter(tags=["sessions"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Editor = Annotated[Principal, requires(Permission.EDIT)]
Owner = Annotated[str | None, Query(description="Admins only: another user's session.")]


def sessions(request: HTTPConnection) -> SessionBackend:
    """The app's sessions backend."""
    backend: SessionBackend = request.app.state.sessions
    return backend


Backend = Annotated[SessionBackend, Depends(sessions)]


def _owner(principal: Principal, owner: str | None, name: str) -> str:
    """Whose session ``name`` is meant: the caller's, or (for an admin) ``owner``'s."""
    if owner is None or identity_key(owner) == principal.key:
        return principal.user
    if principal.role is not Role.ADMIN:
        raise UnknownSessionError(name)  # not theirs: as if it did not exist
    return owner


@router.get("/sessions")
def get_sessions(backend: Backend, principal: Editor) -> list[dict[str, Any]]:
    """The caller's sessions (an admin's: everyone's), a dead server's shown stopped."""
    everyone = principal.role is Role.ADMIN
    return [r.to_json() for r in backend.list(None if everyone else principal.user)]


@router.get("/sessions/options")
def get_session_options(backend: Backend, principal: Editor) -> dict[str, Any]:
    """What a session may be given: each option's default and limit."""
    return backend.options()


@router.post("/sessions", status_code=201)
def post_session(
    body: SessionBody,
    backend: Backend,
    repo: Annotated[Repository, Depends(repository)],
    principal: Editor,
) -> dict[str, Any]:
    """Start a session on its own worktree of ``branch``; 422 naming an option past its limit."""
    runbook = repo.relative(repo.find_runbook(body.runbook)) if body.runbook else None
    record = backend.start(
        principal.user,
        body.name,
        branch=body.branch,
        runbook=runbook,
        options=body.options,
        restore=body.restore,
    )
    return record.to_json()


@router.get("/sessions/{name}")
def get_session(
    name: str, backend: Backend, principal: Editor, owner: Owner = None
) -> dict[str, Any]:
    """One session as it is now."""
    return backend.status(_owner(principal, owner, name), name).to_json()


@router.delete("/sessions/{name}")
def delete_session(
    name: str, backend: Backend, principal: Editor, owner: Owner = None
) -> dict[str, Any]:
    """Stop a session; its uncommitted work goes to an autosave branch (in the answer)."""
    return backend.stop(_owner(principal, owner, name), name).to_json()


@router.get("/sessions/{name}/logs")
def get_session_logs(
    name: str, backend: Backend, principal: Editor, owner: Owner = None
) -> dict[str, Any]:
    """The last lines of the session's server log (its token masked)."""
    return {"name": name, "lines": backend.logs(_owner(principal, owner, name), name)}


@router.get("/environments")
def get_environment(
    principal: Editor,
    name: Annotated[str, Query(min_length=1, max_length=200, description="A kernelspec.")],
) -> dict[str, Any]:
    """Whether a session could use the environment ``name`` (a kernelspec here)."""
    return environment_seen(name)


@router.get("/autosave")
def get_autosaves(backend: Backend, principal: Editor) -> list[dict[str, str]]:
    """The caller's autosaves, newest first."""
    return [a.to_json() for a in backend.autosaves(principal.user)]


@router.delete("/autosave/{name:path}", status_code=204)
def delete_autosave(name: str, backend: Backend, principal: Editor) -> None:
    """Delete one of the caller's autosaves (its branch)."""
    backend.delete_autosave(principal.user, name)
