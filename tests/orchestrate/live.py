"""Shared pieces of the live-run tests: a fresh PostgreSQL store, plans, waiting on it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.model.repository import Repository
from runbook.orchestrate.planning import plan_runbook
from runbook.store.db import ensure_schema, make_engine
from runbook.store.live_wait import wait_for
from tests.builders import Cell, write_runbook

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: A hang guard, not a speed: every wait below ends on a state of the store.
HANG_GUARD = 120.0
T = TypeVar("T")


@pytest.fixture
def store_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    name = f"runbook_live_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def pg_sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on that store, its schema current."""
    engine = make_engine(store_url)
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def make_plan(
    repo: Repository,
    sessions: sessionmaker[Session],
    cells: list[Cell],
    *,
    name: str = "live",
    gate: str = "",
) -> str:
    """Plan a runbook of ``cells`` as alice; its plan id."""
    path = write_runbook(repo.runbooks_dir / f"{name}.ipynb", cells)
    if gate:
        import nbformat

        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["runbook"]["gate"] = gate
        nbformat.write(notebook, path)
    with sessions.begin() as session:
        return plan_runbook(session, repo, Path(path), {}, planner="alice").id


def wait_until(sessions: sessionmaker[Session], check: Callable[[Session], T | None]) -> T:
    """What ``check`` returns once it returns something (the store's state, not time)."""
    found = wait_for(sessions, check, timeout=HANG_GUARD)
    assert found is not None, "the store never reached the state waited for"
    return found
