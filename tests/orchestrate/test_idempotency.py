"""The idempotency rule in the core: once per (principal, key), for a day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import IdempotencyConflictError, ParameterError
from runbook.model.repository import Repository
from runbook.orchestrate.idempotency import KEY_LIFETIME, fingerprint, forget_old_keys, once
from runbook.store.db import ensure_schema, make_engine
from runbook.store.idempotency import find_request


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def test_once_per_principal_and_key(sessions: sessionmaker[Session]) -> None:
    made: list[int] = []

    def work() -> dict[str, int]:
        made.append(len(made) + 1)
        return {"n": made[-1]}

    request = fingerprint("POST", "/plans", "", b"{}")
    first = once(sessions, "alice", "k", request, work)
    again = once(sessions, "alice", "k", request, work)
    assert (first.body, first.replayed) == ({"n": 1}, False)
    assert (again.body, again.replayed, again.status) == ({"n": 1}, True, 201)
    assert once(sessions, "bob", "k", request, work).body == {"n": 2}
    assert once(sessions, "alice", None, request, work).body == {"n": 3}
    with pytest.raises(IdempotencyConflictError, match="different request"):
        once(sessions, "alice", "k", fingerprint("POST", "/plans", "", b"{ }"), work)
    with pytest.raises(ParameterError, match="Idempotency-Key"):
        once(sessions, "alice", " spaced ", request, work)
    assert made == [1, 2, 3]


def test_a_failure_frees_the_key(sessions: sessionmaker[Session]) -> None:
    def failing() -> None:
        raise ParameterError("x", "bad")

    with pytest.raises(ParameterError):
        once(sessions, "alice", "k", "r", failing)
    with sessions() as session:
        assert find_request(session, "alice", "k") is None
    assert once(sessions, "alice", "k", "r", lambda: 1).body == 1


def test_keys_expire_after_a_day_and_gc_removes_them(sessions: sessionmaker[Session]) -> None:
    then = datetime.now(UTC) - KEY_LIFETIME - timedelta(minutes=1)
    once(sessions, "alice", "old", "r", lambda: 1, now=then)
    once(sessions, "alice", "new", "r", lambda: 2)
    # An expired key is a new request, even with another body.
    assert (
        once(sessions, "alice", "old", "other", lambda: 3, now=then + timedelta(days=2)).body == 3
    )
    once(sessions, "alice", "stale", "r", lambda: 4, now=then)
    with sessions.begin() as session:
        assert forget_old_keys(session) == 1
    with sessions() as session:
        assert find_request(session, "alice", "stale") is None
        assert find_request(session, "alice", "new") is not None
