"""Session options and names: defaults, limits, and one clear refusal naming the option."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import ConfigError, ParameterError
from runbook.model.repository import Repository
from runbook.model.sessions import check_session_name, choose_options, user_slug
from runbook.orchestrate.sessions.local import LocalBackend
from tests.orchestrate.sessions.conftest import session_settings


def test_defaults_and_limits_come_from_the_settings(repo: Repository) -> None:
    settings = session_settings(repo, "memory_mb = 1024\nmax_memory_mb = 2048")
    assert choose_options(settings, None).memory_mb == 1024
    assert choose_options(settings, {"memory_mb": 2048}).memory_mb == 2048
    with pytest.raises(ParameterError, match=r"'memory_mb': 4096 is above the limit of 2048"):
        choose_options(settings, {"memory_mb": 4096})


@pytest.mark.parametrize(
    ("chosen", "named"),
    [
        ({"gpus": 1}, "gpus"),
        ({"cpu_seconds": 0}, "cpu_seconds"),
        ({"idle_timeout": "1"}, "idle_timeout"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    repo: Repository, chosen: dict[str, object], named: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        choose_options(session_settings(repo), chosen)
    assert refused.value.name == named


def test_a_refused_start_leaves_nothing_behind(repo: Repository) -> None:
    backend = LocalBackend(repo, session_settings(repo))
    with pytest.raises(ParameterError, match="idle_timeout"):
        backend.start("alice", "big", options={"idle_timeout": 10**9})
    assert not backend.home.exists() or not any(backend.home.rglob("*.json"))


def test_a_default_above_its_limit_is_a_config_error(repo: Repository) -> None:
    with pytest.raises(ConfigError, match=r"sessions\.memory_mb"):
        session_settings(repo, "memory_mb = 9\nmax_memory_mb = 8")


@given(st.text(max_size=50))
def test_session_names_are_checked(name: str) -> None:
    try:
        assert check_session_name(name) == name
    except ParameterError:
        return
    assert name[0] != "-" and all(c.islower() or c.isdigit() or c == "-" for c in name)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_two_users_never_share_a_slug(one: str, other: str) -> None:
    if one != other:
        assert user_slug(one) != user_slug(other)
    assert "/" not in user_slug(one) and ".." not in user_slug(one)
