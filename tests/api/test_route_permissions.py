"""Deny by default: every route of the app declares its permission, or is public on purpose."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from runbook.api.app import create_app
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
    documentation = {r.path for r in app_routes(app) if route_permission(r) == PUBLIC}
    assert documentation <= {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


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
        # No credentials: refused before any route runs, in the one error shape.
        for path in declared:
            response = client.get(path.replace("{", "x").replace("}", "x").replace(":path", ""))
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
