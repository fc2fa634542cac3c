"""Appending revisions: an import that lost the race for a number reads the newest again,
and gives up with one clear error after a bounded number of tries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.errors import StoreError
from runbook.store.catalog_tables import CatalogRevisionRow
from runbook.store.revisions import ATTEMPTS, append_revision


def _row(number: int, sha: str) -> CatalogRevisionRow:
    return CatalogRevisionRow(
        revision=number,
        definition={"sha": sha},
        sha256=sha,
        source="catalog/",
        git_commit=None,
        dirty=None,
        imported_by="a",
        imported_at=datetime(2026, 12, 4, tzinfo=UTC),
    )


def _newest(session: Session) -> CatalogRevisionRow | None:
    query = select(CatalogRevisionRow).order_by(CatalogRevisionRow.revision.desc()).limit(1)
    return session.scalars(query).first()


def test_a_number_taken_meanwhile_is_retried_after_the_newest(session: Session) -> None:
    append_revision(session, "one", lambda: _newest(session), lambda n: _row(n, "one"), "catalog")
    looks: list[int] = []

    def newest() -> CatalogRevisionRow | None:
        looks.append(1)  # the first look is stale: another import took number 1 meanwhile
        return None if len(looks) == 1 else _newest(session)

    row, created = append_revision(session, "two", newest, lambda n: _row(n, "two"), "catalog")
    assert created and row.revision == 2 and len(looks) == 2
    same, created = append_revision(
        session, "two", lambda: _newest(session), lambda n: _row(n, "two"), "catalog"
    )
    assert not created and same.revision == 2


def test_endless_races_give_up_with_one_clear_error(session: Session) -> None:
    append_revision(session, "one", lambda: _newest(session), lambda n: _row(n, "one"), "catalog")
    tries: list[int] = []

    def always_stale() -> None:
        tries.append(1)

    with pytest.raises(StoreError, match="catalog: too many concurrent imports"):
        append_revision(session, "two", always_stale, lambda n: _row(n, "two"), "catalog")
    assert len(tries) == ATTEMPTS
    assert [r.revision for r in session.scalars(select(CatalogRevisionRow))] == [1]
