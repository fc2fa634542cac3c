"""`--as` and RUNBOOK_USER: lookalikes are the same person, unprintable names are refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from runbook.model.repository import Repository
from tests.conftest import Result

Cli = Callable[..., Result]


def _plan_as_alice(run_cli: Cli, repo: Repository) -> str:
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('require = "tagged"', 'require = "all"'))
    assert run_cli("create", "Restart database", "--as", "alice").code == 0
    planned = run_cli(
        "plan", "runbooks/restart-database.ipynb", "-p", "host", "db1", "--as", "alice", "--json"
    )
    assert planned.code == 0, planned.err
    return str(json.loads(planned.out)["id"])


@pytest.mark.parametrize(
    "variant", ["\u0430lice", "\uff41\uff4c\uff49\uff43\uff45", "al\u0131ce", "AL\u0130CE"]
)
def test_a_lookalike_name_is_refused_as_self_review(
    run_cli: Cli, repo: Repository, variant: str
) -> None:
    plan_id = _plan_as_alice(run_cli, repo)
    own = run_cli("review", plan_id, "--approve", "--as", variant)
    assert own.code == 1 and "alice planned it" in own.err and own.err.count("\n") == 1
    assert json.loads(run_cli("show-plan", plan_id, "--json").out)["reviews"] == []


@pytest.mark.parametrize("variant", ["alice\u200b", "ali\u00adce", "\ufeffalice", "\u202ealice"])
def test_an_invisible_character_in_as_is_refused_with_exit_2(
    run_cli: Cli, repo: Repository, variant: str
) -> None:
    plan_id = _plan_as_alice(run_cli, repo)
    refused = run_cli("review", plan_id, "--approve", "--as", variant)
    assert refused.code == 2
    assert refused.err.startswith("runbook: error: --as '") and "unprintable U+" in refused.err
    assert refused.err.count("\n") == 1
    assert json.loads(run_cli("show-plan", plan_id, "--json").out)["reviews"] == []


def test_an_unprintable_runbook_user_is_refused(
    run_cli: Cli, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_USER", "alice\u2066")
    refused = run_cli("create", "Restart database")
    assert refused.code == 2 and "RUNBOOK_USER 'alice\\u2066'" in refused.err
    assert run_cli("create", "Restart database", "--as", "").code == 2
