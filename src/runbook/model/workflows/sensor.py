"""The available-dates sensor's decision: which (workflow, date, parameters) runs are due.

Pure logic, no I/O. For each workflow entry of an ``AvailableDatesSensor`` and each
available date ``d``, a run is due when ``d`` is at or after the entry's ``earliest_date``
(if set), every date of the entry's stencil for ``d`` is available, and no run of the same
(workflow name, ``d``, parameters) is already running or has succeeded. A stencil that cannot
be resolved for a date (e.g. a mixed interval that comes out reversed) is never available
for that date, so the date is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from runbook.errors import SpecError
from runbook.model.stencil import DateStencil, date_ranges_parameter
from runbook.model.workflows.workflow import AvailableDatesSensor

RunKey = tuple[str, dt.date, str]


@dataclass(frozen=True)
class DueRun:
    """One workflow run the sensor should start: its reference date and automatic parameters."""

    workflow_name: str
    reference_date: dt.date
    parameters: dict[str, Any]
    date_ranges: list[list[str]]

    @property
    def key(self) -> RunKey:
        """``(workflow_name, reference_date, parameters_key(parameters))``, the run's identity."""
        return (self.workflow_name, self.reference_date, parameters_key(self.parameters))


def parameters_key(parameters: dict[str, Any]) -> str:
    """Canonical JSON of ``parameters`` (sorted keys, compact; dates as ISO strings)."""
    return json.dumps(
        parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso
    )


def due_runs(
    sensor: AvailableDatesSensor,
    available: Collection[dt.date],
    done: Collection[RunKey],
) -> list[DueRun]:
    """The runs due for ``available`` dates, sorted by (reference date, workflow name).

    ``done`` holds the ``(workflow_name, reference_date, parameters_key)`` of runs that are
    running or succeeded; they are never due again. Duplicate sensor entries (same workflow
    and parameters) yield one run per date.
    """
    have = frozenset(available)
    seen: set[RunKey] = set(done)
    runs: list[DueRun] = []
    for entry in sensor.workflows:
        stencil = entry.date_stencil if entry.date_stencil is not None else DateStencil()
        key = parameters_key(entry.parameters)
        for day in sorted(have):
            if entry.earliest_date is not None and day < entry.earliest_date:
                continue
            if (entry.workflow_name, day, key) in seen:
                continue
            try:
                if not stencil.is_available(day, have):
                    continue
                ranges = date_ranges_parameter(stencil, day)
            except SpecError:
                continue  # unresolvable for this date: never available
            seen.add((entry.workflow_name, day, key))
            runs.append(DueRun(entry.workflow_name, day, dict(entry.parameters), ranges))
    runs.sort(key=lambda run: (run.reference_date, run.workflow_name))
    return runs


def _iso(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"parameter value of type {type(value).__name__} is not JSON-serialisable")
