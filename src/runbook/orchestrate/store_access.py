"""Opening a repository's store: the one way the CLI and the service reach it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from runbook.config import database_url
from runbook.model.repository import Repository
from runbook.store.db import ensure_schema, make_engine


def open_store(repository: Repository) -> Engine:
    """An engine on the repository's store (``store.url`` / ``RUNBOOK_DB_URL``, else its
    SQLite file), migrated to the current schema. The caller disposes of it."""
    engine = make_engine(database_url(repository.root, repository.config.store_url))
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def store_engine(repository: Repository) -> Iterator[Engine]:
    """:func:`open_store` for the length of a block, disposed of afterwards."""
    engine = open_store(repository)
    try:
        yield engine
    finally:
        engine.dispose()
