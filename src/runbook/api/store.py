"""The dependency that gives a route one store session, committed when the route succeeds."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.store.db import session_scope


def store_session(request: Request) -> Iterator[Session]:
    """A session on the app's store for the length of the request."""
    with session_scope(request.app.state.engine) as session:
        yield session


def repository(request: Request) -> Repository:
    """The repository the app serves."""
    repo: Repository = request.app.state.repository
    return repo
