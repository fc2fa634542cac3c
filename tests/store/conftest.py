"""Fixtures of the store tests: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from runbook.model.plan import Plan, PlanState
from runbook.store.db import ensure_schema, make_engine, session_scope

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL_PREFIX = "postgresql+psycopg://postgres@127.0.0.1:5432/"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, dropped after the test."""
    if request.param == "sqlite":
        # A missing parent folder: make_engine must create it.
        yield f"sqlite:///{tmp_path / 'state' / 'runbook.db'}"
        return
    name = f"runbook_test_{secrets.token_hex(8)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL_PREFIX + name
    finally:
        # FORCE: a test that forgot to dispose an engine must not leave the database behind.
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    engine = make_engine(store_url)
    try:
        ensure_schema(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session committed at the end of the test."""
    with session_scope(engine) as session:
        yield session


T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

PlanFactory = Callable[..., Plan]


@pytest.fixture
def make_plan() -> PlanFactory:
    """A factory of valid plans: ``make_plan("id", field=value, …)``."""
    return _make_plan


def _make_plan(plan_id: str = "p-1", **changes: Any) -> Plan:
    fields: dict[str, Any] = {
        "id": plan_id,
        "runbook_path": "runbooks/restart.ipynb",
        "title": "Restart the web tier",
        "sha256": "a" * 64,
        "parameters": {"host": "web-1", "count": 3},
        "planned_by": "alice",
        "planned_at": T0,
        "state": PlanState.PLANNED,
        "notebook_path": f"runs/{plan_id}/plan.ipynb",
        "review_required": True,
        "content": '{"cells":[]}',
    }
    fields.update(changes)
    return Plan(**fields)
