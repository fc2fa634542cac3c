"""The web pages: one more edge over the same core as the REST routes, under ``/ui``.

Server-rendered (Jinja2, autoescaped), with small scripts of our own (``static/``) where a
page is live; no build step, nothing from a CDN. Every page route declares its permission
(:func:`~runbook.api.pages.guard.page_requires` or ``public()``) and every POST checks the
visitor's CSRF token (:mod:`~runbook.api.pages.guard`).
"""

from __future__ import annotations

from fastapi import FastAPI

from runbook.api.pages.web_sessions import WebSessions


def install_pages(app: FastAPI) -> None:
    """Serve the pages on ``app`` (after its API routes and error handlers)."""
    from runbook.api.pages import (
        catalog_pages,
        login,
        ops_pages,
        plan_pages,
        playbook_pages,
        run_pages,
        runbook_pages,
        workflow_pages,
    )
    from runbook.api.pages.safety import install_safety

    app.state.web_sessions = WebSessions()
    pages = (login, catalog_pages, runbook_pages, plan_pages, run_pages, ops_pages)
    for module in (*pages, workflow_pages, playbook_pages):
        app.include_router(module.router)
    install_safety(app)
