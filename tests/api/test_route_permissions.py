"""Deny by default: every route of the app declares its permission, or is public on purpose."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from runbook.api.app import create_app
from runbook.api.pages.safety import is_page
from runbook.api.permissions import PUBLIC, app_routes, requires, route_permission
from runbook.model.repository import Repository
from runbook.model.roles import Permission


def undeclared(app: FastAPI) -> list[str]:
    """The routes of ``app`` that declare no permission."""
    return [
        f"{sorted(getattr(r, 'methods', None) or [])} {getattr(r, 'path', r)}"
        for r in app_routes(app)
        if route_permission(r) is None
    ]


def test_every_route_declares_a_permission(repo: Repository) -> None:
    app = create_app(repo)
    assert undeclared(app) == []
    # The only public routes: the documentation (api/routes/docs.py), the probes an
    # orchestrator calls unauthenticated, and the pages' sign-in, sign-out and own static
    # files (tests/api/pages).
    public_paths = {r.path for r in app_routes(app) if route_permission(r) == PUBLIC}
    documentation = {"/openapi.json", "/docs", "/docs/init.js", "/docs/assets/{name}"}
    probes = {"/livez", "/readyz"}
    pages = {"/ui/login", "/ui/logout", "/ui/static/{name}"}
    assert public_paths == documentation | probes | pages


def test_a_route_without_a_permission_is_found(repo: Repository) -> None:
    app = create_app(repo)
    stray = APIRouter()

    @stray.get("/stray")
    def _stray() -> dict[str, str]:
        return {}

    @stray.get("/guarded", dependencies=[requires(Permission.VIEW)])
    def _guarded() -> dict[str, str]:
        return {}

    app.include_router(stray)
    assert undeclared(app) == ["['GET'] /stray"]


def test_the_declared_permission_is_the_one_enforced(repo: Repository) -> None:
    app = create_app(repo)
    declared = {
        r.path: route_permission(r)
        for r in app_routes(app)
        if route_permission(r) != PUBLIC and "GET" in (getattr(r, "methods", None) or ())
    }
    assert declared["/audit"] is Permission.AUDIT
    assert declared["/runs"] is Permission.VIEW
    with TestClient(app) as client:
        # No credentials: refused before any route runs (before its body is read), in the
        # one error shape, whatever the method.
        for route in app_routes(app):
            if route_permission(route) == PUBLIC or is_page(route.path):
                continue  # a page sends the visitor to sign in: tests/api/pages
            path = route.path
            url = path.replace("{", "x").replace("}", "x").replace(":path", "")
            if route.methods is None:  # a WebSocket route: refused at its handshake
                with pytest.raises(WebSocketDenialResponse) as refused:
                    client.websocket_connect(url).__enter__()
                assert refused.value.status_code == 401, path
                continue
            for method in route.methods:
                response = client.request(method, url)
                assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"


#: The permission each route of the REST edges needs: who reads, plans, runs, reviews, imports.
EXPECTED = {
    ("POST", "/plans"): Permission.PLAN,
    ("GET", "/plans/{plan_id}/diff"): Permission.VIEW,
    ("POST", "/plans/{plan_id}/reviews"): Permission.REVIEW,
    ("GET", "/plans/{plan_id}/reviews"): Permission.VIEW,
    ("POST", "/standing"): Permission.REVIEW,
    ("GET", "/standing"): Permission.VIEW,
    ("GET", "/standing/{approval_id}"): Permission.VIEW,
    ("POST", "/standing/{approval_id}/revoke"): Permission.REVIEW,
    ("GET", "/workflows"): Permission.VIEW,
    ("POST", "/workflows/{name}/runs"): Permission.RUN,
    ("GET", "/workflow-runs"): Permission.VIEW,
    ("GET", "/workflow-runs/{run_id}"): Permission.VIEW,
    ("POST", "/workflow-runs/{run_id}/resume"): Permission.RUN,
    ("POST", "/playbooks/import"): Permission.IMPORT,
    ("GET", "/playbooks"): Permission.VIEW,
    ("GET", "/playbooks/{name}"): Permission.VIEW,
    ("POST", "/playbooks/{name}/plans"): Permission.PLAN,
    ("POST", "/playbooks/{name}/runs"): Permission.RUN,
    ("GET", "/playbook-runs"): Permission.VIEW,
    ("GET", "/playbook-runs/{run_id}"): Permission.VIEW,
    ("POST", "/playbook-runs/{run_id}/retry"): Permission.RUN,
    ("POST", "/playbook-runs/{run_id}/cancel"): Permission.RUN,
    ("POST", "/gc"): Permission.GC,
}


def test_the_rest_routes_need_what_their_role_grants(repo: Repository) -> None:
    declared = {
        (method, r.path): route_permission(r)
        for r in app_routes(create_app(repo))
        for method in getattr(r, "methods", None) or ()
    }
    assert {route: declared.get(route) for route in EXPECTED} == EXPECTED
