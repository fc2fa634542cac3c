"""The available-dates sensor's decision logic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runbook.model.stencil import parse_stencil
from runbook.model.workflows.sensor import DueRun, due_runs, parameters_key
from runbook.model.workflows.workflow import AvailableDatesSensor, SensorWorkflow, load_workflows

SEED_YAML = """\
workflows:
  - name: flows
    notebooks:
      run_flows:
        filename: run_flows.ipynb
        parameters:
          reference_date: reference_date
          date_ranges: date_ranges

available_dates_sensor:
  schedule: "0 0 * * *"
  cdr_types: [calls, sms]
  workflows:
    - workflow_name: flows
      parameters: {}
      earliest_date: 2016-01-03
      date_stencil: [[2016-01-01, 2016-01-02], -1, 0]
"""


def d(day: int) -> dt.date:
    """2016-01-<day>."""
    return dt.date(2016, 1, day)


def days(*numbers: int) -> set[dt.date]:
    """Several days of January 2016."""
    return {d(n) for n in numbers}


def pairs(runs: list[DueRun]) -> list[tuple[str, dt.date]]:
    """(workflow, date) of each run, in order."""
    return [(run.workflow_name, run.reference_date) for run in runs]


def entry(name: str = "flows", stencil: object = None, **kwargs: Any) -> SensorWorkflow:
    """A sensor workflow entry with a parsed stencil."""
    return SensorWorkflow(name, date_stencil=parse_stencil(stencil), **kwargs)


def sensor(*entries: SensorWorkflow) -> AvailableDatesSensor:
    """A sensor over ``entries`` with no schedule."""
    return AvailableDatesSensor(schedule=None, cdr_types=None, workflows=list(entries))


def test_seed_sensor_across_polls() -> None:
    loaded = load_workflows(SEED_YAML).sensor
    assert loaded is not None
    done: set[tuple[str, dt.date, str]] = set()

    first = due_runs(loaded, days(1, 2, 3), done)
    assert pairs(first) == [("flows", d(3))]
    assert first[0].date_ranges == [
        ["2016-01-01", "2016-01-02"],
        ["2016-01-02", "2016-01-02"],
        ["2016-01-03", "2016-01-03"],
    ]
    assert first[0].parameters == {}
    done.update(run.key for run in first)

    # 2016-01-04 missing: 05 needs 04, 06 needs 05 and 06.
    second = due_runs(loaded, days(1, 2, 3, 5, 6), done)
    assert pairs(second) == [("flows", d(6))]
    done.update(run.key for run in second)

    third = due_runs(loaded, days(1, 2, 3, 4, 5, 6), done)
    assert pairs(third) == [("flows", d(4)), ("flows", d(5))]
    done.update(run.key for run in third)
    assert due_runs(loaded, days(1, 2, 3, 4, 5, 6), done) == []


def test_without_done_every_eligible_date_is_due() -> None:
    loaded = load_workflows(SEED_YAML).sensor
    assert loaded is not None
    assert pairs(due_runs(loaded, days(1, 2, 3, 4, 5), ())) == [
        ("flows", d(3)),
        ("flows", d(4)),
        ("flows", d(5)),
    ]


def test_earliest_date_and_default_stencil() -> None:
    runs = due_runs(sensor(entry(earliest_date=d(2))), days(1, 2, 3), ())
    assert pairs(runs) == [("flows", d(2)), ("flows", d(3))]
    assert runs[0].date_ranges == [["2016-01-02", "2016-01-02"]]
    assert pairs(due_runs(sensor(entry()), days(1), ())) == [("flows", d(1))]


def test_different_parameters_are_separate_runs() -> None:
    a = entry(parameters={"region": "north"})
    b = entry(parameters={"region": "south"})
    same = entry(parameters={"region": "north"})
    runs = due_runs(sensor(a, b, same), days(1), ())
    assert [run.parameters for run in runs] == [{"region": "north"}, {"region": "south"}]
    done = {("flows", d(1), parameters_key({"region": "north"}))}
    assert [run.parameters for run in due_runs(sensor(a, b), days(1), done)] == [
        {"region": "south"}
    ]


def test_sorted_by_date_then_workflow() -> None:
    runs = due_runs(sensor(entry("zeta"), entry("alpha")), days(2, 1), ())
    assert pairs(runs) == [("alpha", d(1)), ("zeta", d(1)), ("alpha", d(2)), ("zeta", d(2))]


def test_parameters_key_is_canonical() -> None:
    assert parameters_key({"b": 1, "a": [1, 2]}) == parameters_key({"a": [1, 2], "b": 1})
    assert parameters_key({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert parameters_key({"when": d(1)}) == '{"when":"2016-01-01"}'


def test_unresolvable_stencil_skips_the_date() -> None:
    # [2016-01-05, -1] is reversed for reference dates up to 2016-01-05.
    runs = due_runs(sensor(entry(stencil=[["2016-01-05", -1]])), days(*range(1, 8)), ())
    assert pairs(runs) == [("flows", d(6)), ("flows", d(7))]
    assert runs[0].date_ranges == [["2016-01-05", "2016-01-05"]]


def test_returned_parameters_are_copies() -> None:
    item = entry(parameters={"x": 1})
    runs = due_runs(sensor(item), days(1), ())
    runs[0].parameters["x"] = 2
    assert item.parameters == {"x": 1}


STENCILS = [None, [0], [-1, 0], [[-2, 0]], [["2016-01-03", "2016-01-04"], -1]]


@given(
    available=st.sets(st.integers(min_value=1, max_value=20)),
    done_days=st.sets(st.integers(min_value=1, max_value=20)),
    stencil_index=st.integers(min_value=0, max_value=len(STENCILS) - 1),
    earliest=st.none() | st.integers(min_value=1, max_value=20),
)
def test_due_runs_properties(
    available: set[int], done_days: set[int], stencil_index: int, earliest: int | None
) -> None:
    stencil = STENCILS[stencil_index]
    entries = [
        entry(
            stencil=stencil,
            parameters={"p": 1},
            earliest_date=None if earliest is None else d(earliest),
        ),
        entry(stencil=stencil, parameters={"p": 2}),
        entry("other", stencil=stencil),
    ]
    have = days(*available)
    done = {("flows", d(n), parameters_key({"p": 1})) for n in done_days}
    runs = due_runs(sensor(*entries), have, done)
    keys = [run.key for run in runs]
    assert len(keys) == len(set(keys))
    assert not set(keys) & done
    parsed = parse_stencil(stencil)
    for run in runs:
        assert run.reference_date in have
        assert parsed.dates(run.reference_date) <= have
        if run.parameters == {"p": 1} and earliest is not None:
            assert run.reference_date >= d(earliest)
    assert runs == sorted(runs, key=lambda run: (run.reference_date, run.workflow_name))
    # Completeness: every eligible (entry, date) not done is due.
    for item in entries:
        for day in have:
            key = (item.workflow_name, day, parameters_key(item.parameters))
            eligible = item.earliest_date is None or day >= item.earliest_date
            if eligible and key not in done and parsed.is_available(day, have):
                assert key in keys
