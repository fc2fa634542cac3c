"""The dependency that gives a route one store session, committed when the route succeeds."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.store.db import session_scope


def store_session(request: Request) -> Iterator[Session]:
    """A session on the app's store for the length of the request."""
    with session_scope(request.app.state.engine) as session:
        yield session


def store_engine(request: Request) -> Engine:
    """The app's store engine, for a route that opens its session in its own body.

    Why: a session from :func:`store_session` keeps its connection until the dependency's
    teardown, which waits for a worker thread of its own. Under more concurrent requests
    than the engine's pool holds, every worker thread can end up waiting for a connection
    that only a teardown (waiting for a thread) would give back, and the service stalls
    until the pool's timeout. A route whose body takes and returns its connection in one
    thread cannot take part in that; the busiest read routes do so.
    """
    engine: Engine = request.app.state.engine
    return engine


def repository(request: Request) -> Repository:
    """The repository the app serves."""
    repo: Repository = request.app.state.repository
    return repo
