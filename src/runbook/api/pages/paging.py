"""List pages in pages of :data:`PAGE_SIZE`: newest first, ``?page=N`` for older ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, TypeVar

from fastapi import Query

#: Rows on one page of a list.
PAGE_SIZE: Final = 50
T = TypeVar("T")
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000, description="1 is the newest.")]


@dataclass(frozen=True)
class Paging:
    """Where a list page is: its number and whether an older one follows."""

    number: int
    more: bool

    @staticmethod
    def offset(number: int) -> int:
        """How many rows come before page ``number``."""
        return (number - 1) * PAGE_SIZE


def paged(rows: list[T], number: int) -> tuple[list[T], Paging]:
    """The page's rows (asked for one more than a page) and where it is."""
    return rows[:PAGE_SIZE], Paging(number, len(rows) > PAGE_SIZE)
