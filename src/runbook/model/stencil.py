"""Date stencils: which dates must be available before a workflow runs for a reference date.

A stencil is a list of elements, each one of:

- an absolute date (``2016-01-01``);
- an integer offset in days from the reference date (``-1`` is the day before, ``0`` the
  reference date itself), so a stencil holding ``-1`` runs for ``2016-01-03`` only if
  ``2016-01-02`` is available;
- a pair of those, an interval inclusive of both ends; dates and offsets may be mixed
  (``[2016-01-01, -3]``).

No stencil means ``[0]``: only the reference date itself must be available. For example
``[[2016-01-01, 2016-01-02], -1, 0]`` with reference date ``2016-01-07`` needs 2016-01-01,
2016-01-02, 2016-01-06 and 2016-01-07, and its ``date_ranges`` notebook parameter is always
a list of pairs, even for single dates::

    [["2016-01-01", "2016-01-02"], ["2016-01-06", "2016-01-06"], ["2016-01-07", "2016-01-07"]]

An interval of two dates or of two offsets is checked for order when parsed; one that mixes
a date and an offset can only be checked once resolved against a reference date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from runbook.errors import SpecError

Bound = dt.date | int
Element = Bound | tuple[Bound, Bound]

_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_EXPECTED: Final = "expected a date, an integer offset or a pair of them"


@dataclass(frozen=True)
class DateStencil:
    """A parsed date stencil: absolute dates, day offsets and inclusive (start, end) pairs."""

    elements: tuple[Element, ...] = (0,)
    where: str = field(default="date_stencil", compare=False)

    def date_pairs(self, reference: dt.date) -> list[tuple[dt.date, dt.date]]:
        """Each element resolved against ``reference`` as an inclusive (start, end) pair.

        A single date or offset ``d`` gives ``(d, d)``; this is AutoFlow's ``date_ranges``.
        Raises SpecError when an interval resolves reversed or outside the date range.
        """
        pairs: list[tuple[dt.date, dt.date]] = []
        for index, element in enumerate(self.elements):
            at = f"{self.where}[{index}]"
            if isinstance(element, tuple):
                start = _resolve(element[0], reference, at)
                end = _resolve(element[1], reference, at)
                if start > end:
                    raise SpecError(
                        at,
                        f"interval [{_show(element[0])}, {_show(element[1])}] resolves to "
                        f"start {start} after its end {end} for reference date {reference}",
                    )
                pairs.append((start, end))
            else:
                day = _resolve(element, reference, at)
                pairs.append((day, day))
        return pairs

    def dates(self, reference: dt.date) -> set[dt.date]:
        """Every date the stencil covers for ``reference`` (interval ends included)."""
        covered: set[dt.date] = set()
        for start, end in self.date_pairs(reference):
            covered.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
        return covered

    def is_available(self, reference: dt.date, available: Collection[dt.date]) -> bool:
        """Whether every date covered for ``reference`` is in ``available``."""
        have = available if isinstance(available, set | frozenset) else set(available)
        return self.dates(reference) <= have


def parse_stencil(raw: object, where: str = "date_stencil") -> DateStencil:
    """Parse a ``date_stencil`` value as loaded from YAML; ``None`` means ``[0]``.

    Raises SpecError naming the offending element's path, e.g. ``date_stencil[2]``.
    """
    if raw is None:
        return DateStencil(where=where)
    if not isinstance(raw, list | tuple):
        raise SpecError(where, f"expected a list of dates, offsets or pairs, got {_repr(raw)}")
    elements: list[Element] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if isinstance(item, list | tuple):
            if len(item) != 2:
                raise SpecError(at, f"interval must have exactly 2 elements, got {len(item)}")
            start = _parse_bound(item[0], f"{at}[0]")
            end = _parse_bound(item[1], f"{at}[1]")
            if _statically_reversed(start, end):
                raise SpecError(at, f"interval start {_show(start)} is after its end {_show(end)}")
            elements.append((start, end))
        else:
            elements.append(_parse_bound(item, at, _EXPECTED))
    return DateStencil(elements=tuple(elements), where=where)


def date_ranges_parameter(stencil: DateStencil, reference: dt.date) -> list[list[str]]:
    """The ``date_ranges`` notebook parameter: ISO ``[start, end]`` pairs for ``reference``."""
    return [[start.isoformat(), end.isoformat()] for start, end in stencil.date_pairs(reference)]


def _parse_bound(
    value: object, at: str, expected: str = "expected a date or an integer offset"
) -> Bound:
    if isinstance(value, dt.datetime):
        raise SpecError(at, f"expected a date without a time, got {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as error:
            raise SpecError(at, f"invalid date {value!r}: {error}") from None
    raise SpecError(at, f"{expected}, got {_repr(value)}")


def _statically_reversed(start: Bound, end: Bound) -> bool:
    if isinstance(start, dt.date) and isinstance(end, dt.date):
        return start > end
    if isinstance(start, int) and isinstance(end, int):
        return start > end
    return False  # a date and an offset: only a reference date can order them


def _resolve(bound: Bound, reference: dt.date, at: str) -> dt.date:
    if isinstance(bound, dt.date):
        return bound
    try:
        return reference + dt.timedelta(days=bound)
    except OverflowError:
        raise SpecError(
            at, f"offset {bound} from reference date {reference} is outside the supported dates"
        ) from None


def _show(bound: Bound) -> str:
    return bound.isoformat() if isinstance(bound, dt.date) else str(bound)


def _repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
