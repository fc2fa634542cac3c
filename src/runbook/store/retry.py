"""Transactions that live through a dropped store connection.

A run writes to the store for minutes or hours; a database restart, a fail-over or a
terminated backend must not end it. :func:`retrying` runs one transaction and, when it fails
for a transient reason (the connection dropped or could not be made, a serialization
failure or deadlock, the server shutting down), runs it again after a backoff (0.1 s
doubling to 2 s) until a time budget is spent, then raises :class:`StoreUnavailableError`.
Any other database error is a :class:`StoreError` at once.

A transaction retried after a failure may have committed before its acknowledgement was
lost; ``guard`` (run first in every retried attempt, in the same transaction) is how a
writer proves it still holds its lease, so a writer whose run was marked interrupted while
it was cut off is refused rather than written to as if alive.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import StoreError, StoreUnavailableError
from runbook.store.db import describe_error

T = TypeVar("T")

_FIRST_DELAY = 0.1
_MAX_DELAY = 2.0
# PostgreSQL SQLSTATE classes worth another try: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention (a
# terminated backend, a server shutting down or starting up).
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57"})
# SQLite: another writer holds the file past the busy timeout, or the file is briefly gone.
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")


def is_transient(error: DBAPIError) -> bool:
    """True when trying the same transaction again may succeed."""
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        text = str(original).lower()
        return isinstance(original, sqlite3.OperationalError) and any(
            word in text for word in _SQLITE_TRANSIENT
        )
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] in _TRANSIENT_CLASSES
    # psycopg reports a connection that failed or broke without a SQLSTATE.
    return isinstance(error, OperationalError | InterfaceError)


def retrying(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    budget: float,
    guard: Callable[[Session], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """``work`` in a transaction of its own, tried again through transient failures.

    Raises StoreUnavailableError once ``budget`` seconds have gone by without success, and
    StoreError for any other database error (or whatever ``guard`` and ``work`` raise).
    """
    deadline = time.monotonic() + budget
    delay = _FIRST_DELAY
    failed = False
    while True:
        try:
            with sessions.begin() as session:
                if failed and guard is not None:
                    guard(session)
                return work(session)
        except DBAPIError as error:
            described = _described(sessions, error)
            if not is_transient(error):
                raise described from error
            if time.monotonic() + delay > deadline:
                raise StoreUnavailableError(described.reason, budget) from error
        failed = True
        sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)


def _described(sessions: sessionmaker[Session], error: DBAPIError) -> StoreError:
    bind = sessions.kw.get("bind")
    engine = getattr(bind, "engine", None)
    if engine is None:
        return StoreError(f"database error: {type(error.orig or error).__name__}")
    return describe_error(engine, error)
