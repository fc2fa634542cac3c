"""Transactions retried through a dropped connection, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import StoreError, StoreUnavailableError
from runbook.store.db import make_engine
from runbook.store.retry import retrying


@pytest.mark.postgres
def test_a_transaction_whose_connection_the_server_ends_is_run_again(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    sessions = sessionmaker(engine)
    attempts: list[int] = []
    guarded: list[int] = []

    def work(session: Session) -> int:
        attempts.append(len(attempts))
        if len(attempts) == 1:  # the server ends this very connection mid-transaction
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return int(session.scalar(text("SELECT 41 + 1")) or 0)

    answer = retrying(
        sessions, work, budget=60, guard=lambda session: guarded.append(len(attempts))
    )
    assert (answer, attempts, guarded) == (42, [0, 1], [1])  # the guard runs on retries only


def test_other_errors_are_not_retried_and_the_guard_can_refuse(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    calls: list[str] = []

    def broken(session: Session) -> None:
        calls.append("work")
        session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(StoreError, match="database error on"):
        retrying(sessions, broken, budget=60)
    assert calls == ["work"]


def test_an_unreachable_store_is_retried_with_backoff_until_the_budget() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    try:
        with pytest.raises(StoreUnavailableError) as unreachable:
            retrying(
                sessionmaker(engine), lambda s: s.execute(text("SELECT 1")), budget=0.5, sleep=sleep
            )
        # No sleep happened really, so the budget bounds the attempts by their own time:
        # whatever their number, the delays double from 0.1 s and never pass 2 s.
        assert all(b == min(a * 2, 2.0) for a, b in itertools.pairwise(slept))
        assert not slept or slept[0] == 0.1
        assert str(unreachable.value).startswith("store: cannot connect to postgresql")
        assert "still failing after 0.5 s of retries" in str(unreachable.value)
        with pytest.raises(StoreUnavailableError):
            retrying(sessionmaker(engine), lambda s: s.execute(text("SELECT 1")), budget=0)
    finally:
        engine.dispose()
