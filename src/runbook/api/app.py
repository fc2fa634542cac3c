"""The service: ``create_app(repository)`` is a FastAPI app on the repository and its store.

The store is the one the CLI opens (:func:`runbook.orchestrate.store_access.open_store`),
once per app, disposed of when the app shuts down. Every route declares its permission
(:mod:`runbook.api.permissions`) and every error has one JSON shape (:mod:`runbook.api.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from runbook.api.errors import install_error_handlers
from runbook.api.logs import LOG_CONFIG
from runbook.api.middleware import RequestContext
from runbook.api.pages import install_pages
from runbook.api.routes import (
    alerts,
    artifacts,
    audit,
    catalog,
    docs,
    gc,
    health,
    identity,
    live,
    plan_actions,
    plans,
    playbook_runs,
    playbooks,
    runbooks,
    runs,
    session_proxy,
    sessions,
    standing,
    workflows,
)
from runbook.credentials import environment
from runbook.model.repository import Repository
from runbook.model.settings_sessions import load_session_settings
from runbook.orchestrate.auth_throttle import FailureThrottle
from runbook.orchestrate.authentication import Authenticator
from runbook.orchestrate.background import Background
from runbook.orchestrate.run_artifacts import artifact_store
from runbook.orchestrate.run_pool import RunPool
from runbook.orchestrate.service_metrics import ServiceMetrics
from runbook.orchestrate.sessions.culler import Culler
from runbook.orchestrate.sessions.local import LocalBackend
from runbook.orchestrate.store_access import open_store
from runbook.orchestrate.sweeping import sweep_at_most_every

# LOG_CONFIG: what `runbook serve` hands uvicorn to log with, from here (the one module of
# this edge the CLI may import).
__all__ = ["LOG_CONFIG", "SHUTDOWN_GRACE", "create_app"]

#: How long a stopping server waits for the workflow and playbook runs it started.
SHUTDOWN_GRACE = 10.0


def create_app(repository: Repository, *, run_pool_size: int = 0) -> FastAPI:
    """The service on ``repository`` (its settings are ``repository.config``; a mistake in
    ``[service]`` is a ConfigError here, before anything listens).

    With ``run_pool_size``, that many run processes per kernelspec wait with a booted
    kernel for the runs ``POST /runs`` starts (:mod:`runbook.orchestrate.run_pool`).
    """
    settings = repository.config.service(repository.root)
    session_settings = load_session_settings(repository.root, environment())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Migrating may take a while on a fresh store: not on the event loop.
        app.state.engine = await run_in_threadpool(open_store, repository)
        sweep_at_most_every(app.state.engine)  # not on each of hundreds of reads a second
        app.state.authenticator = Authenticator.for_service(app.state.engine, settings)
        app.state.run_pool = RunPool(repository, size=run_pool_size) if run_pool_size else None
        metrics.bind(app.state.engine)
        # Sessions a previous server left are seen stopped (and autosaved) here.
        app.state.sessions = await run_in_threadpool(LocalBackend, repository, session_settings)
        culler = Culler(app.state.sessions, session_settings.cull_interval)
        try:
            yield
        finally:
            # Every session stops with the server, its uncommitted work autosaved.
            await run_in_threadpool(culler.close)
            await run_in_threadpool(app.state.sessions.close)
            if app.state.run_pool is not None:
                await run_in_threadpool(app.state.run_pool.close)
            # Workflow and playbook runs the server started: a moment to end, else their
            # leases lapse and they are swept as interrupted.
            await run_in_threadpool(app.state.background.join, SHUTDOWN_GRACE)
            app.state.engine.dispose()

    app = FastAPI(
        title="Runbook",
        version=version("runbook"),
        description="Runbooks, plans, runs and the audit log of one repository.",
        lifespan=lifespan,
        docs_url=None,  # served by api/routes/docs.py, its assets from the app itself
        redoc_url=None,
    )
    app.state.repository = repository
    app.state.background = Background()
    app.state.auth_throttle = FailureThrottle(settings.failed_auth_limit)
    app.state.metrics = metrics = ServiceMetrics(app.state.background.running)
    app.state.artifacts = artifact_store(repository)
    install_error_handlers(app)
    app.add_middleware(RequestContext, metrics=metrics)
    routers = (identity, runbooks, plans, plan_actions, runs, live, audit, standing, workflows)
    served = (*routers, artifacts, playbooks, playbook_runs, gc, health, alerts, catalog, docs)
    # The proxy last: /sessions/{name}/logs and the like are the service's own.
    for module in (*served, sessions, session_proxy):
        app.include_router(module.router)
    install_pages(app)
    return app
