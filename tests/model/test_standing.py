"""Standing approval bounds as `--bound` writes them, and what each admits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import UsageError
from runbook.model.standing import Bound, check_caller, parse_bound


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("host=db1", Bound("value", ("db1",))),
        ("host=db1|db2", Bound("choices", ("db1", "db2"))),
        ("host=~db[0-9]+", Bound("pattern", ("db[0-9]+",))),
        ("n=1..5", Bound("range", low=1.0, high=5.0)),
        ("n=..5", Bound("range", high=5.0)),
        ("n=-2..", Bound("range", low=-2.0)),
        ("note=*", Bound("any")),
    ],
)
def test_each_kind_of_bound_reads_and_writes_back(text: str, bound: Bound) -> None:
    name, parsed = parse_bound(text)
    assert parsed == bound and f"{name}={parsed.describe()}" == text
    assert Bound.from_json(parsed.to_json()) == parsed


def test_what_each_bound_admits() -> None:
    assert parse_bound("host=~db[0-9]+")[1].refusal("host", "db12x") is not None  # a full match
    assert parse_bound("host=~db[0-9]+")[1].refusal("host", "db12") is None
    assert parse_bound("n=1..5")[1].refusal("n", 5) is None
    assert parse_bound("n=1..5")[1].refusal("n", True) is not None  # a flag is no number
    assert parse_bound("n=1..5")[1].refusal("n", "3") is not None  # nor is text
    assert parse_bound("flag=true")[1].refusal("flag", True) is None


@pytest.mark.parametrize("text", ["host", "=x", "1x=2", "n=5..1", "n=1..x", "r=~(", "n=1.2.3..4"])
def test_a_malformed_bound_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--bound "):
        parse_bound(text)


def test_callers_have_a_known_kind() -> None:
    assert check_caller("workflow: nightly ") == "workflow:nightly"
    with pytest.raises(UsageError):
        check_caller("cron:nightly")


@given(st.text(max_size=30), st.one_of(st.text(max_size=10), st.integers(), st.floats()))
def test_any_bound_text_parses_or_is_one_usage_error_and_never_crashes_on_a_value(
    text: str, value: object
) -> None:
    try:
        name, bound = parse_bound(text)
    except UsageError as error:
        assert str(error).startswith("--bound ") and "\n" not in str(error).replace(text, "")
    else:
        reason = bound.refusal(name, value)
        assert reason is None or reason.startswith(name)
