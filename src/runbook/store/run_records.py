"""What the records of every kind of run share: listed newest first, ids for completion.

Runs, workflow runs and playbook runs each have an ``id`` and a ``started_at``; their lease
(and the sweep of expired ones) is :mod:`runbook.store.leases`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from runbook.store.leases import Leased


def newest_first(
    session: Session,
    table: type[Leased],
    *,
    limit: int | None = None,
    offset: int = 0,
    **equal: object,
) -> list[Leased]:
    """Rows of ``table``, newest first (``started_at``, then id), each column named in
    ``equal`` equal to its value (a None value does not filter), after skipping ``offset``."""
    query = select(table).order_by(table.started_at.desc(), table.id.desc())
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(table, column) == value)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(session.scalars(query))


def newest_rows(
    session: Session,
    table: type[Leased],
    *,
    limit: int | None = None,
    offset: int = 0,
    **equal: object,
) -> list[Row[Any]]:
    """:func:`newest_first` as plain rows of the table's columns (attribute names as the
    mapped class's): no ORM objects, identity map or change tracking, for listings that
    only read (about a third of a listing's time on the service)."""
    columns = table.__table__.columns
    query = select(*columns).order_by(table.started_at.desc(), table.id.desc())
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(table, column) == value)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(session.execute(query))


def ids_starting(session: Session, table: type[Leased], prefix: str) -> list[str]:
    """The ids of ``table`` starting with ``prefix``, sorted (for shell completion)."""
    query = select(table.id).where(table.id.startswith(prefix, autoescape=True))
    return sorted(session.scalars(query))
