"""Parsing ``[review]`` rules: requirements per tag, groups expanded, bad tables named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import ConfigError
from runbook.model.review_rules import (
    RecordedRules,
    Requirement,
    ReviewRules,
    parse_review_rules,
    unmet,
)

TABLE = {
    "approvals": 1,
    "groups": {"dba": ["carol", "dave"], "sre": ["erin", "carol"]},
    "tag": {"critical": {"approvals": 2, "reviewers": ["@dba", "@sre"]}},
}


def test_requirements_per_tag_with_groups_expanded_once() -> None:
    rules = parse_review_rules(TABLE, "runbook.toml")
    assert rules.requirements(["critical", "other"]) == (
        Requirement(1, (), "review"),
        Requirement(2, ("carol", "dave", "erin"), "review.tag.critical"),
    )
    assert rules.requirements([]) == (Requirement(1, (), "review"),)


def test_unmet_counts_people_once_and_only_admitted_ones() -> None:
    needs = (Requirement(2, ("carol", "dave"), "review.tag.critical"),)
    assert unmet(needs, ["carol", "CAROL ", "bob"]) == [(needs[0], 1)]
    assert unmet(needs, ["carol", "dave"]) == []


def test_recorded_rules_survive_json() -> None:
    recorded = RecordedRules(("critical",), ReviewRules().requirements(["critical"]))
    assert RecordedRules.from_json(recorded.to_json()) == recorded
    assert RecordedRules.from_json(None) is None


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"approvals": 0}, "review.approvals: must be a whole number from 1 to 100, not 0"),
        ({"approvals": True}, "review.approvals: must be a whole number"),
        ({"reviewers": "bob"}, "review.reviewers: must be a list of names"),
        ({"reviewers": ["@ops"]}, "review.reviewers: @ops is not a group of review.groups"),
        ({"groups": {"dba": "carol"}}, "review.groups.dba: must be a list of names"),
        ({"tag": {"critical": 2}}, "review.tag.critical: must be a table"),
        ({"tag": {"critical": {"from": ["bob"]}}}, "review.tag.critical: unknown key 'from'"),
    ],
)
def test_a_bad_table_is_named(table: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match="^runbook.toml: " + says.replace("(", r"\(")):
        parse_review_rules(table, "runbook.toml")


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.sampled_from(["approvals", "reviewers", "groups", "tag", "require"]), _values, max_size=4
    )
)
def test_any_table_gives_rules_or_one_named_error(table: dict[str, Any]) -> None:
    try:
        rules = parse_review_rules(table, "runbook.toml")
    except ConfigError as error:
        assert str(error).startswith("runbook.toml: review.")
    else:
        assert all(r.approvals >= 1 for r in rules.requirements(list(rules.tags)))
