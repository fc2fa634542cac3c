from __future__ import annotations

import datetime as dt
import pickle

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import SpecError
from runbook.model.stencil import (
    DateStencil,
    Element,
    date_ranges_parameter,
    parse_stencil,
)

D = dt.date


def test_offset_minus_one_needs_the_day_before() -> None:
    stencil = parse_stencil([-1])
    assert stencil.dates(D(2016, 1, 3)) == {D(2016, 1, 2)}
    assert stencil.is_available(D(2016, 1, 3), [D(2016, 1, 2)])
    assert not stencil.is_available(D(2016, 1, 3), [D(2016, 1, 3)])


def test_default_is_the_reference_date_only() -> None:
    stencil = parse_stencil(None)
    assert stencil == DateStencil() == parse_stencil([0])
    assert stencil.elements == (0,)
    assert stencil.date_pairs(D(2016, 1, 7)) == [(D(2016, 1, 7), D(2016, 1, 7))]
    assert stencil.is_available(D(2016, 1, 7), {D(2016, 1, 7)})
    assert not stencil.is_available(D(2016, 1, 7), set())


def test_seed_example_date_ranges() -> None:
    stencil = parse_stencil(yaml.safe_load("- [2016-01-01, 2016-01-03]\n- -3\n- [-2, 0]\n"))
    assert date_ranges_parameter(stencil, D(2016, 1, 7)) == [
        ["2016-01-01", "2016-01-03"],
        ["2016-01-04", "2016-01-04"],
        ["2016-01-05", "2016-01-07"],
    ]


def test_yaml_flow_list_with_pairs_offsets_and_dates() -> None:
    raw = yaml.safe_load("[[2016-01-01, 2016-01-02], -1, 0]")
    stencil = parse_stencil(raw)
    assert stencil.elements == ((D(2016, 1, 1), D(2016, 1, 2)), -1, 0)
    reference = D(2016, 1, 7)
    assert date_ranges_parameter(stencil, reference) == [
        ["2016-01-01", "2016-01-02"],
        ["2016-01-06", "2016-01-06"],
        ["2016-01-07", "2016-01-07"],
    ]
    needed = {D(2016, 1, 1), D(2016, 1, 2), D(2016, 1, 6), D(2016, 1, 7)}
    assert stencil.dates(reference) == needed
    assert stencil.is_available(reference, needed | {D(2016, 1, 3)})
    assert not stencil.is_available(reference, needed - {D(2016, 1, 2)})


def test_mixed_interval_of_date_and_offset() -> None:
    stencil = parse_stencil([[D(2016, 1, 1), -3]])
    assert stencil.date_pairs(D(2016, 1, 7)) == [(D(2016, 1, 1), D(2016, 1, 4))]
    assert stencil.dates(D(2016, 1, 7)) == {D(2016, 1, n) for n in range(1, 5)}
    assert parse_stencil([[-3, D(2016, 1, 9)]]).date_pairs(D(2016, 1, 7)) == [
        (D(2016, 1, 4), D(2016, 1, 9))
    ]


def test_date_ranges_are_always_pairs_and_keep_order() -> None:
    stencil = parse_stencil([D(2016, 1, 1), 0, D(2016, 1, 1)])
    assert date_ranges_parameter(stencil, D(2016, 2, 1)) == [
        ["2016-01-01", "2016-01-01"],
        ["2016-02-01", "2016-02-01"],
        ["2016-01-01", "2016-01-01"],
    ]


def test_iso_strings_and_tuples_are_accepted() -> None:
    stencil = parse_stencil(["2016-01-01", ("2016-01-02", 0)])
    assert stencil.elements == (D(2016, 1, 1), (D(2016, 1, 2), 0))


def test_empty_stencil_needs_nothing() -> None:
    stencil = parse_stencil([])
    assert stencil.date_pairs(D(2016, 1, 1)) == []
    assert stencil.is_available(D(2016, 1, 1), [])


def test_where_prefix_is_kept_and_errors_pickle() -> None:
    with pytest.raises(SpecError) as caught:
        parse_stencil([0, "abc"], where="workflows.yml: sensor[1].date_stencil")
    assert str(caught.value) == (
        "workflows.yml: sensor[1].date_stencil[1]: expected a date, an integer offset "
        "or a pair of them, got 'abc'"
    )
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)  # noqa: S301 - our own bytes


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            [0, -1, [1, 2, 3]],
            "date_stencil[2]: interval must have exactly 2 elements, got 3",
        ),
        ([[]], "date_stencil[0]: interval must have exactly 2 elements, got 0"),
        ([[0]], "date_stencil[0]: interval must have exactly 2 elements, got 1"),
        (
            [0, "abc"],
            "date_stencil[1]: expected a date, an integer offset or a pair of them, got 'abc'",
        ),
        (
            [[D(2016, 1, 5), D(2016, 1, 1)]],
            "date_stencil[0]: interval start 2016-01-05 is after its end 2016-01-01",
        ),
        ([0, [2, -1]], "date_stencil[1]: interval start 2 is after its end -1"),
        (
            [True],
            "date_stencil[0]: expected a date, an integer offset or a pair of them, got True",
        ),
        ([[0, False]], "date_stencil[0][1]: expected a date or an integer offset, got False"),
        (
            [1.5],
            "date_stencil[0]: expected a date, an integer offset or a pair of them, got 1.5",
        ),
        (
            [None],
            "date_stencil[0]: expected a date, an integer offset or a pair of them, got None",
        ),
        (
            [[[0, 1], 2]],
            "date_stencil[0][0]: expected a date or an integer offset, got [0, 1]",
        ),
        (
            [dt.datetime(2016, 1, 1, 12, 0)],  # noqa: DTZ001 - a naive datetime is the input
            "date_stencil[0]: expected a date without a time, got 2016-01-01T12:00:00",
        ),
        (
            [[0, dt.datetime(2016, 1, 1, tzinfo=dt.UTC)]],
            "date_stencil[0][1]: expected a date without a time, got 2016-01-01T00:00:00+00:00",
        ),
        (["2016-02-30"], "date_stencil[0]: invalid date '2016-02-30'"),
        (
            ["20160101"],
            "date_stencil[0]: expected a date, an integer offset or a pair of them, got '20160101'",
        ),
        (0, "date_stencil: expected a list of dates, offsets or pairs, got 0"),
        ("[0]", "date_stencil: expected a list of dates, offsets or pairs, got '[0]'"),
        ({"a": 1}, "date_stencil: expected a list of dates, offsets or pairs, got {'a': 1}"),
    ],
)
def test_rejections_name_the_element(raw: object, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_stencil(raw)
    assert str(caught.value).startswith(message)


def test_yaml_timestamp_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"^date_stencil\[1\]: expected a date without a time"):
        parse_stencil(yaml.safe_load("[0, 2016-01-01 10:00:00]"))


def test_long_garbage_is_truncated_in_messages() -> None:
    with pytest.raises(SpecError) as caught:
        parse_stencil(["x" * 500])
    assert len(str(caught.value)) < 200


def test_mixed_interval_reversed_at_resolution() -> None:
    stencil = parse_stencil([0, [D(2016, 1, 5), -3]])
    assert stencil.date_pairs(D(2016, 1, 8)) == [
        (D(2016, 1, 8), D(2016, 1, 8)),
        (D(2016, 1, 5), D(2016, 1, 5)),
    ]
    with pytest.raises(SpecError) as caught:
        stencil.date_pairs(D(2016, 1, 7))
    assert str(caught.value) == (
        "date_stencil[1]: interval [2016-01-05, -3] resolves to start 2016-01-05 after its "
        "end 2016-01-04 for reference date 2016-01-07"
    )
    with pytest.raises(SpecError):
        stencil.is_available(D(2016, 1, 7), [])


@pytest.mark.parametrize("offset", [-(10**12), 10**12, -1])
def test_offsets_outside_the_calendar_fail_cleanly(offset: int) -> None:
    stencil = parse_stencil([offset])
    with pytest.raises(SpecError, match=r"^date_stencil\[0\]: offset .* outside"):
        stencil.date_pairs(dt.date.min)


# --- properties -----------------------------------------------------------------------------

REFERENCE = st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31))
#: Offsets and absolute dates stay within this many days of the reference, so a stencil
#: covers at most 2 * SPAN + 1 dates and removing each one in turn stays cheap.
SPAN = 40
OFFSET = st.integers(min_value=-SPAN, max_value=SPAN)


@st.composite
def valid_elements(draw: st.DrawFn, reference: dt.date) -> Element:
    """A single bound, or a pair that resolves in order against ``reference``."""

    def bound() -> dt.date | int:
        offset = draw(OFFSET)
        return reference + dt.timedelta(days=offset) if draw(st.booleans()) else offset

    def resolved(value: dt.date | int) -> dt.date:
        return value if isinstance(value, dt.date) else reference + dt.timedelta(days=value)

    if draw(st.booleans()):
        return bound()
    first, second = bound(), bound()
    if resolved(first) > resolved(second):
        first, second = second, first
    return (first, second)


@st.composite
def stencil_and_reference(draw: st.DrawFn) -> tuple[list[object], dt.date]:
    reference = draw(REFERENCE)
    elements = draw(st.lists(valid_elements(reference), max_size=6))
    raw: list[object] = [list(e) if isinstance(e, tuple) else e for e in elements]
    return raw, reference


@settings(max_examples=300, deadline=None)
@given(stencil_and_reference())
def test_dates_lie_within_ordered_pairs(case: tuple[list[object], dt.date]) -> None:
    raw, reference = case
    stencil = parse_stencil(raw)
    pairs = stencil.date_pairs(reference)
    assert len(pairs) == len(raw)
    assert all(start <= end for start, end in pairs)
    covered = stencil.dates(reference)
    for day in covered:
        assert any(start <= day <= end for start, end in pairs)
    for start, end in pairs:
        assert start in covered
        assert end in covered
    assert date_ranges_parameter(stencil, reference) == [
        [start.isoformat(), end.isoformat()] for start, end in pairs
    ]


@settings(max_examples=300, deadline=None)
@given(stencil_and_reference())
def test_available_exactly_when_every_date_is(case: tuple[list[object], dt.date]) -> None:
    raw, reference = case
    stencil = parse_stencil(raw)
    covered = stencil.dates(reference)
    assert stencil.is_available(reference, covered)
    assert stencil.is_available(reference, list(covered))
    for day in covered:
        assert not stencil.is_available(reference, covered - {day})


@settings(max_examples=300, deadline=None)
@given(stencil_and_reference())
def test_yaml_round_trip(case: tuple[list[object], dt.date]) -> None:
    raw, _reference = case
    reloaded = yaml.safe_load(yaml.safe_dump(raw))
    assert parse_stencil(reloaded) == parse_stencil(raw)


GARBAGE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.floats(),
        st.text(max_size=12),
        st.dates().map(lambda d: d.isoformat()),
        st.dates(),
        st.datetimes(),
    ),
    lambda children: st.lists(children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(GARBAGE, REFERENCE)
def test_garbage_parses_or_raises_spec_error(raw: object, reference: dt.date) -> None:
    try:
        stencil = parse_stencil(raw)
    except SpecError as error:
        assert str(error).startswith("date_stencil")
        return
    if raw is None:
        assert stencil == DateStencil()
    else:
        assert isinstance(raw, list)
        assert len(stencil.elements) == len(raw)
    try:
        pairs = stencil.date_pairs(reference)
    except SpecError:
        return
    assert all(start <= end for start, end in pairs)
