"""Many requests at once on routes that take a store session all complete.

A route's session used to stay open until after its response was sent, and before that
FastAPI validates the response in a worker thread: with more concurrent requests than the
engine's pool (or, on SQLite, than the one write lock) allows, every worker thread waited
for a session that only a response waiting for a worker thread would end, and nothing was
answered until the pool's or the lock's timeout. No timing here: the requests are all
started together and each must end with a 200.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute

from runbook.api.app import create_app
from runbook.api.permissions import DOCUMENTATION_PATHS, app_routes
from runbook.api.store import StoreRoute
from runbook.model.repository import Repository
from runbook.model.roles import Role
from tests.api.conftest import Records, Tokens

#: More than anyio's 40 worker threads and the engine's 15 connections.
CONCURRENT = 120


async def _all_at_once(repo: Repository, headers: dict[str, str], paths: list[str]) -> list[int]:
    app = create_app(repo)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(*(client.get(p, headers=headers) for p in paths))
    return [answer.status_code for answer in answers]


@pytest.mark.slow
def test_concurrent_requests_on_session_routes_all_complete(
    repo: Repository, records: Records, tokens: Tokens
) -> None:
    headers = Tokens.header(tokens.by_role[Role.ADMIN])
    # Routes on the store_session dependency (not the read-only runs routes), mixed.
    routes = [f"/plans/{records.plan.id}", "/plans", "/audit", f"/runs/{records.run_id}"]
    paths = [routes[i % len(routes)] for i in range(CONCURRENT)]
    statuses = asyncio.run(_all_at_once(repo, headers, paths))
    assert statuses == [200] * CONCURRENT


def test_every_route_ends_its_sessions_with_its_body(repo: Repository) -> None:
    app = create_app(repo)
    for context in app_routes(app):
        route = getattr(context, "route", context)
        if getattr(route, "path", "") in DOCUMENTATION_PATHS or not hasattr(route, "dependant"):
            continue
        if isinstance(route, APIWebSocketRoute):
            continue  # a socket's relay holds no store session (the sessions' proxy)
        assert isinstance(route, StoreRoute), route.path
