"""Waiting for a change another process writes to the store: a gate's decision, an event.

On PostgreSQL a writer calls :func:`notify` in its transaction and every waiter, in any
process on the store, wakes at its commit (``LISTEN``/``NOTIFY``). SQLite has no such thing:
the waiter polls, every ``poll`` seconds. Either way the waiter checks the state itself,
first and after every wake-up, so a missed or early notification only costs a re-check.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

#: The one channel live-run writes notify, with the run's id as payload.
CHANNEL: Final = "runbook_live"
#: How long a waiter on PostgreSQL sleeps at most between checks (a lost connection's cost).
_LISTEN_RECHECK: Final = 1.0
T = TypeVar("T")


def notify(session: Session, run_id: str) -> None:
    """Wake the waiters on ``run_id`` when this transaction commits (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :run)"), {"channel": CHANNEL, "run": run_id}
        )


def wait_for(
    sessions: sessionmaker[Session],
    check: Callable[[Session], T | None],
    *,
    timeout: float | None = None,
    poll: float = 0.1,
) -> T | None:
    """Call ``check`` in a fresh transaction until it returns something other than None.

    Returns that, or None when ``timeout`` seconds passed first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    engine = sessions.kw["bind"]
    with _listening(engine) as wake:
        while True:
            with sessions() as session:
                found = check(session)
            if found is not None:
                return found
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            wake(poll if left is None else min(poll, left))


@contextlib.contextmanager
def _listening(engine: Engine) -> Iterator[Callable[[float], None]]:
    """A function sleeping until a notification (PostgreSQL) or for the poll interval."""
    if engine.dialect.name != "postgresql":
        yield time.sleep
        return
    raw = engine.raw_connection()
    connection: Any = raw.driver_connection
    raw.detach()  # autocommit and LISTEN: never handed back to the pool
    try:
        connection.rollback()
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")

        def wake(_poll: float) -> None:
            for _ in connection.notifies(timeout=_LISTEN_RECHECK, stop_after=1):
                pass

        yield wake
    finally:
        raw.close()
