"""The store sessions of routes: one per request, ended in the thread of the route's body.

Why the body's thread: FastAPI ends a dependency's session after the response is sent,
and before that it validates the response in a worker thread of its pool (40). A session
still open then holds its connection (and on SQLite the write lock): under more concurrent
requests than the engine's pool holds, every worker thread waited for a connection or the
lock that only a response waiting for a worker thread would give back, and the service
stalled until the pool's timeout. :class:`StoreRoute` commits (or rolls back) and closes a
route's sessions as soon as its body returns, in the same thread; the dependency's own
teardown then finds nothing left to do.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.store.db import describe_error, read_only, session_scope


def store_session(request: Request) -> Iterator[Session]:
    """A session on the app's store for the route's body, committed when it succeeds."""
    with session_scope(request.app.state.engine) as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    """A session that only reads (on SQLite: no write lock, so reads run side by side);
    a sweep it triggers writes in a session of its own."""
    with session_scope(read_only(request.app.state.engine)) as session:
        yield session


def repository(request: Request) -> Repository:
    """The repository the app serves."""
    repo: Repository = request.app.state.repository
    return repo


class StoreRoute(APIRoute):
    """A route whose store sessions end with its body (see the module's docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _ending_sessions(endpoint), **kwargs)


def _ending_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint  # async routes take no session: theirs would block the event loop

    @functools.wraps(endpoint)
    def body(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(*args, **kwargs)
            for session in sessions:
                _commit(session)
            return result
        except BaseException:
            for session in sessions:
                with contextlib.suppress(DBAPIError):  # a dead connection: report the first
                    session.rollback()
            raise
        finally:
            for session in sessions:
                session.close()

    return body


def _commit(session: Session) -> None:
    try:
        session.commit()
    except DBAPIError as exc:
        raise describe_error(session.get_bind().engine, exc) from exc
