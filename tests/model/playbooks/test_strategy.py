"""Batch and failure arithmetic, rollback order and inventory drift."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.model.playbooks.playbook import RunbookStep, ShellStep, Target
from runbook.model.playbooks.strategy import (
    Rollback,
    batch_sizes,
    exceeds,
    failure_limit,
    inventory_drift,
    percentage,
    rollback_plan,
    split_batches,
)

sizes = st.one_of(
    st.integers(1, 200),
    st.integers(1, 100).map(lambda n: f"{n}%"),
    st.sampled_from(["0.5%", "12.5%", "33.3%", "99.99%"]),
)


def _size_of(entry: int | str, total: int) -> int:
    """The size an entry means, computed independently of the module (integer arithmetic)."""
    if isinstance(entry, int):
        return entry
    whole, _, decimals = entry.rstrip("%").partition(".")
    scale: int = 10 ** len(decimals)
    numerator = int(whole + decimals)
    return max(1, numerator * total // (100 * scale))


@pytest.mark.parametrize(
    ("spec", "total", "expected"),
    [
        ([1, "10%", "100%"], 50, [1, 5, 44]),
        ([1, "10%", "100%"], 5, [1, 1, 3]),
        (2, 5, [2, 2, 1]),
        ("100%", 7, [7]),
        ("50%", 5, [2, 2, 1]),
        ("1%", 3, [1, 1, 1]),
        ([10], 3, [3]),
        ([1, 2, 3], 20, [1, 2, 3, 3, 3, 3, 3, 2]),
        ("10%", 30, [3] * 10),
        ([1, "10%"], 0, []),
    ],
)
def test_batch_sizes_examples(
    spec: int | str | list[int | str], total: int, expected: list[int]
) -> None:
    assert batch_sizes(spec, total) == expected


@settings(max_examples=300, deadline=None)
@given(spec=st.lists(sizes, min_size=1, max_size=5), total=st.integers(0, 2000))
def test_batch_sizes_properties(spec: list[int | str], total: int) -> None:
    result = batch_sizes(spec, total)
    assert sum(result) == total
    assert all(size >= 1 for size in result)
    remaining = total
    for index, size in enumerate(result):
        wanted = _size_of(spec[min(index, len(spec) - 1)], total)
        # Each batch is its entry's size, cut only by what remains.
        assert size == min(wanted, remaining)
        remaining -= size
    assert remaining == 0


@given(entry=sizes, total=st.integers(1, 2000))
def test_one_size_is_a_one_entry_list(entry: int | str, total: int) -> None:
    assert batch_sizes(entry, total) == batch_sizes([entry], total)


@pytest.mark.parametrize("bad", [0, -1, True, "0%", "101%", "10", "ten%", "10 %", 1.5])
def test_batch_sizes_refuses_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        batch_sizes([1, bad], 10)  # type: ignore[list-item]


def test_batch_sizes_refuses_empty_list_and_negative_total() -> None:
    with pytest.raises(ValueError, match="empty"):
        batch_sizes([], 10)
    with pytest.raises(ValueError, match="cannot batch -1"):
        batch_sizes(1, -1)


@given(items=st.lists(st.integers(), max_size=60), spec=st.lists(sizes, min_size=1, max_size=4))
def test_split_batches_keeps_order(items: list[int], spec: list[int | str]) -> None:
    batches = split_batches(items, spec)
    assert [item for batch in batches for item in batch] == items
    assert [len(batch) for batch in batches] == batch_sizes(spec, len(items))


@pytest.mark.parametrize(
    ("max_failures", "total", "limit"),
    [(0, 10, 0), (2, 10, 2), ("10%", 25, 2), ("10%", 5, 0), ("100%", 7, 7), ("0%", 9, 0)],
)
def test_failure_limit_examples(max_failures: int | str, total: int, limit: int) -> None:
    assert failure_limit(max_failures, total) == limit


@given(percent=st.integers(0, 100), total=st.integers(0, 5000))
def test_failure_limit_percentage_rounds_down(percent: int, total: int) -> None:
    limit = failure_limit(f"{percent}%", total)
    assert limit == percent * total // 100
    assert limit <= total
    assert failure_limit(f"{percent}%", total + 1) >= limit


@given(count=st.integers(0, 10**6), total=st.integers(0, 100))
def test_failure_limit_count_is_itself(count: int, total: int) -> None:
    assert failure_limit(count, total) == count


@pytest.mark.parametrize("bad", [-1, "101%", "x", True, 0.5])
def test_failure_limit_refuses_bad_values(bad: object) -> None:
    with pytest.raises(ValueError, match="max_failures"):
        failure_limit(bad, 10)  # type: ignore[arg-type]


def test_run_stops_when_failures_exceed_the_limit() -> None:
    # max_failures 0: the first failure stops; max_failures 2: the third does.
    assert [exceeds(failed, 0) for failed in range(3)] == [False, True, True]
    assert [exceeds(failed, 2) for failed in range(5)] == [False, False, False, True, True]


def test_percentage() -> None:
    assert percentage("12.5%") == Fraction(25, 2)
    assert percentage("100%") == 100
    assert percentage("12.5") is None
    assert percentage(12) is None


STEPS = (
    RunbookStep("drain", "runbooks/drain.ipynb"),
    ShellStep("stop", "systemctl stop web", rollback="systemctl start web"),
    ShellStep("check", "true"),
    ShellStep("deploy", ("deploy", "web"), rollback=("undeploy", "web")),
)


def test_rollback_plan_is_newest_first_from_the_failed_step() -> None:
    assert rollback_plan(STEPS, [0, 1, 2], failed=3) == [
        Rollback(3, "deploy", "shell"),
        Rollback(1, "stop", "shell"),
        Rollback(0, "drain", "runbook"),
    ]
    # The failed step is first even when completed steps are given out of order.
    assert rollback_plan(STEPS, [1, 0], failed=2) == [
        Rollback(1, "stop", "shell"),
        Rollback(0, "drain", "runbook"),
    ]
    assert rollback_plan(STEPS, [], failed=0) == [Rollback(0, "drain", "runbook")]
    assert rollback_plan(STEPS, [0, 1], failed=None) == [
        Rollback(1, "stop", "shell"),
        Rollback(0, "drain", "runbook"),
    ]


def test_inventory_drift() -> None:
    current = [Target("b", "10.0.0.9"), Target("d", "d"), Target("c", "c")]
    added, removed = inventory_drift(["a", "b", "c", "e"], current)
    assert added == [Target("d", "d")]
    assert removed == ["a", "e"]
    assert inventory_drift([], []) == ([], [])


@given(
    known=st.lists(st.sampled_from("abcdefgh"), unique=True),
    now=st.lists(st.sampled_from("abcdefgh"), unique=True),
)
def test_inventory_drift_accounts_for_every_name(known: list[str], now: list[str]) -> None:
    added, removed = inventory_drift(known, [Target(name, name) for name in now])
    added_names = [target.name for target in added]
    assert set(added_names).isdisjoint(known)
    assert set(removed) <= set(known)
    assert (set(known) - set(removed)) | set(added_names) == set(now)
    assert added_names == [name for name in now if name not in known]
