"""Engines, sessions and schema checks of the store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.exc import StatementError

from runbook.errors import StoreError
from runbook.model.plan import Plan, PlanState
from runbook.store.db import (
    HEAD_REVISION,
    current_revision,
    downgrade,
    ensure_schema,
    make_engine,
    session_scope,
)
from runbook.store.plans import create_plan, get_plan, plan_ids, set_plan_state
from runbook.store.tables import ReviewRow, UTCDateTime

MakePlan = Callable[..., Plan]
UNREACHABLE = "postgresql+psycopg://nobody:sekret@127.0.0.1:1/x"


def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "runbook.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.is_file()
    finally:
        engine.dispose()


def test_sqlite_memory_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite://")
    try:
        ensure_schema(engine)
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.example/runbook",
        "postgres://u:pw@db.example/runbook",
        "postgresql+psycopg://u:pw@db.example/runbook",
    ],
)
def test_postgres_urls_use_psycopg(url: str) -> None:
    engine = make_engine(url)  # lazy: nothing connects here
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.url.database == "runbook"
    finally:
        engine.dispose()


def test_unsupported_url_is_refused_with_password_masked() -> None:
    with pytest.raises(StoreError, match="unsupported database URL") as caught:
        make_engine("mysql://u:sekret@db.example/runbook")
    assert "sekret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_malformed_url_is_refused_without_echo() -> None:
    with pytest.raises(StoreError, match="invalid database URL") as caught:
        make_engine("not a url sekret")
    assert "sekret" not in str(caught.value)


def test_session_scope_commits(engine: Engine, make_plan: MakePlan) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("kept"))
    with session_scope(engine) as session:
        assert plan_ids(session) == ["kept"]


def test_session_scope_rolls_back_on_error(engine: Engine, make_plan: MakePlan) -> None:
    with pytest.raises(RuntimeError, match="boom"), session_scope(engine) as session:
        create_plan(session, make_plan("lost"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert plan_ids(session) == []


def test_session_scope_turns_database_errors_into_store_error(engine: Engine) -> None:
    # A review of a missing plan, inserted behind the record functions' back: the foreign
    # key (enforced on SQLite too) refuses it at commit.
    orphan = ReviewRow(
        plan_id="ghost",
        verdict="approved",
        reviewer="bob",
        plan_sha256="a" * 64,
        reviewed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    with (
        pytest.raises(StoreError, match="database error on") as caught,
        session_scope(engine) as session,
    ):
        session.add(orphan)
    assert "\n" not in str(caught.value)


def test_session_scope_connection_failure_masks_password() -> None:
    engine = make_engine(UNREACHABLE)
    try:
        with pytest.raises(StoreError) as caught, session_scope(engine) as session:
            session.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "sekret" not in message
    assert message.startswith(
        "store: cannot connect to postgresql+psycopg://nobody:***@127.0.0.1:1/x: "
    )
    assert "\n" not in message


def test_schema_functions_mask_password_on_connection_failure() -> None:
    engine = make_engine(UNREACHABLE)
    try:
        for check in (current_revision, ensure_schema):
            with pytest.raises(StoreError, match="cannot connect to") as caught:
                check(engine)
            assert "sekret" not in str(caught.value)
    finally:
        engine.dispose()


def test_current_revision(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        assert current_revision(engine) is None
        ensure_schema(engine)
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_ensure_schema_is_idempotent(engine: Engine, make_plan: MakePlan) -> None:
    with session_scope(engine) as session:
        create_plan(session, make_plan("survivor"))
    ensure_schema(engine)
    ensure_schema(engine)
    assert current_revision(engine) == HEAD_REVISION
    with session_scope(engine) as session:
        assert plan_ids(session) == ["survivor"]


def test_ensure_schema_refuses_a_newer_database(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="written by a newer runbook"):
        ensure_schema(engine)


def test_ensure_schema_behind_head(engine: Engine) -> None:
    downgrade(engine, "0001")
    if engine.dialect.name == "sqlite":
        ensure_schema(engine)  # migrates itself: a SQLite file belongs to one repository
        assert current_revision(engine) == HEAD_REVISION
        return
    with pytest.raises(StoreError) as caught:
        ensure_schema(engine)
    assert str(caught.value) == (
        "store: database schema is at revision 0001 but this runbook needs "
        f"{HEAD_REVISION}: run `runbook db upgrade`"
    )


def test_utc_datetime_refuses_naive_values(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), engine.dialect)  # noqa: DTZ001
    # Through SQL as well, where SQLAlchemy wraps it.
    statement = text("SELECT 1 WHERE :when IS NOT NULL").bindparams(
        bindparam("when", type_=UTCDateTime())
    )
    with engine.connect() as connection, pytest.raises(StatementError) as caught:
        connection.execute(statement, {"when": datetime(2025, 1, 1)})  # noqa: DTZ001
    assert isinstance(caught.value.orig, ValueError)


def test_sqlite_concurrent_read_then_write(tmp_path: Path, make_plan: MakePlan) -> None:
    # Each session reads then writes. With a deferred BEGIN, SQLite fails such a session
    # with "database is locked" as soon as another process wrote in between.
    url = f"sqlite:///{tmp_path / 'runbook.db'}"
    setup = make_engine(url)
    ensure_schema(setup)
    with session_scope(setup) as session:
        create_plan(session, make_plan("shared"))
    setup.dispose()
    errors: list[BaseException] = []

    def worker(state: PlanState) -> None:
        engine = make_engine(url)
        try:
            for _ in range(25):
                with session_scope(engine) as session:
                    get_plan(session, "shared")
                    set_plan_state(session, "shared", state)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [
        threading.Thread(target=worker, args=(state,))
        for state in (PlanState.APPROVED, PlanState.REJECTED, PlanState.PLANNED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
