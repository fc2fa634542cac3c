"""Appending the next numbered revision of imported content, safely under concurrency.

Playbook definitions and the catalog are imported as numbered revisions: a new revision is
stored only when its content differs from the newest, and two imports racing for the same
number are told apart by the table's unique key: the loser reads the newest again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import StoreError

#: A revision number taken by a concurrent import is tried again this many times.
ATTEMPTS = 5


class RevisionRow(Protocol):
    """What a revision row has that appending needs."""

    revision: int
    sha256: str


RowT = TypeVar("RowT", bound=RevisionRow)


def append_revision(
    session: Session,
    sha256: str,
    newest: Callable[[], RowT | None],
    make_row: Callable[[int], RowT],
    what: str,
) -> tuple[RowT, bool]:
    """The newest row when it holds ``sha256`` already (``created`` False), else a new row
    ``make_row(number)`` numbered after the newest, flushed (``created`` True).

    StoreError naming ``what`` when concurrent imports took every number tried.
    """
    for _ in range(ATTEMPTS):
        current = newest()
        if current is not None and current.sha256 == sha256:
            return current, False
        row = make_row((current.revision if current else 0) + 1)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue  # a concurrent import took this number: read the newest again
        return row, True
    raise StoreError(f"{what}: too many concurrent imports; try again")
