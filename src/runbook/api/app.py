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
from runbook.api.routes import (
    audit,
    docs,
    gc,
    identity,
    live,
    plan_actions,
    plans,
    playbook_runs,
    playbooks,
    runbooks,
    runs,
    standing,
    workflows,
)
from runbook.model.repository import Repository
from runbook.orchestrate.authentication import Authenticator
from runbook.orchestrate.background import Background
from runbook.orchestrate.run_pool import RunPool
from runbook.orchestrate.store_access import open_store
from runbook.orchestrate.sweeping import sweep_at_most_every

#: How long a stopping server waits for the workflow and playbook runs it started.
SHUTDOWN_GRACE = 10.0


def create_app(repository: Repository, *, run_pool_size: int = 0) -> FastAPI:
    """The service on ``repository`` (its settings are ``repository.config``; a mistake in
    ``[service]`` is a ConfigError here, before anything listens).

    With ``run_pool_size``, that many run processes per kernelspec wait with a booted
    kernel for the runs ``POST /runs`` starts (:mod:`runbook.orchestrate.run_pool`).
    """
    settings = repository.config.service(repository.root)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Migrating may take a while on a fresh store: not on the event loop.
        app.state.engine = await run_in_threadpool(open_store, repository)
        sweep_at_most_every(app.state.engine)  # not on each of hundreds of reads a second
        app.state.authenticator = Authenticator.for_service(app.state.engine, settings)
        app.state.run_pool = RunPool(repository, size=run_pool_size) if run_pool_size else None
        try:
            yield
        finally:
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
    install_error_handlers(app)
    routers = (identity, runbooks, plans, plan_actions, runs, live, audit, standing, workflows)
    for module in (*routers, playbooks, playbook_runs, gc, docs):
        app.include_router(module.router)
    return app
