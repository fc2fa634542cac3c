"""The automation lock of a (service, code): one holder at a time, under concurrency, on
SQLite and on PostgreSQL with two engines (two serve processes)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from runbook.config import database_url
from runbook.model.repository import Repository
from runbook.store.catalog_locks import release_auto_lock, take_auto_lock
from runbook.store.db import ensure_schema, make_engine

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def _take(engine: Engine, alert_id: str, stale: str = "") -> str | None:
    """Take the lock; a holder is in flight unless it is ``stale``."""
    with sessionmaker(engine).begin() as session:
        return take_auto_lock(
            session,
            service="checkout",
            code="E-DISK",
            alert_id=alert_id,
            now=NOW,
            in_flight=lambda held_by, taken_at: held_by != stale,
        )


def _race(engines: list[Engine], takers: int, stale: str = "") -> list[str | None]:
    """``takers`` threads take the lock at once, alternating between ``engines``."""
    barrier = threading.Barrier(takers)
    results: dict[int, str | None] = {}

    def one(number: int) -> None:
        barrier.wait()
        results[number] = _take(engines[number % len(engines)], f"alert-{number}", stale)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[n] for n in range(takers)]


def _check_one_winner(results: list[str | None]) -> None:
    winners = [n for n, held in enumerate(results) if held is None]
    assert len(winners) == 1, results
    assert {held for held in results if held is not None} == {f"alert-{winners[0]}"}


@pytest.fixture
def sqlite_engine(repo: Repository) -> Iterator[Engine]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engines() -> Iterator[list[Engine]]:
    name = f"runbook_locks_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engines = [make_engine(url), make_engine(url)]
    ensure_schema(engines[0])
    yield engines
    for engine in engines:
        engine.dispose()
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_one_holder_among_concurrent_takers_on_sqlite(sqlite_engine: Engine) -> None:
    _check_one_winner(_race([sqlite_engine], 8))


@pytest.mark.postgres
def test_one_holder_among_two_processes_on_postgresql(pg_engines: list[Engine]) -> None:
    _check_one_winner(_race(pg_engines, 8))


@pytest.mark.postgres
def test_a_stale_lock_is_taken_over_by_exactly_one(pg_engines: list[Engine]) -> None:
    assert _take(pg_engines[0], "alert-old") is None
    # Its holder is no longer in flight: every taker sees it stale, one takes it over.
    results = _race(pg_engines, 6, stale="alert-old")
    _check_one_winner(results)


def test_released_the_lock_is_free_again(sqlite_engine: Engine) -> None:
    assert _take(sqlite_engine, "alert-a") is None
    assert _take(sqlite_engine, "alert-b") == "alert-a"
    with sessionmaker(sqlite_engine).begin() as session:
        release_auto_lock(session, service="checkout", code="E-DISK", alert_id="alert-b")
    assert _take(sqlite_engine, "alert-b") == "alert-a"  # not b's to release
    with sessionmaker(sqlite_engine).begin() as session:
        release_auto_lock(session, service="checkout", code="E-DISK", alert_id="alert-a")
    assert _take(sqlite_engine, "alert-b") is None
