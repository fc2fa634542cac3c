"""`runbook plan` refuses a runbook with check errors in one line; --force is shown to all."""

from __future__ import annotations

import json
from collections.abc import Callable

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.conftest import Result

Cli = Callable[..., Result]


def _unsafe(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "wipe.ipynb",
        [
            ("code", "print('check')", ["precheck"]),
            ("code", "import os\nos.system('rm -rf /srv/data')", []),
        ],
    )


def test_plan_refuses_a_runbook_with_check_errors_in_one_line(
    repo: Repository, run_cli: Cli
) -> None:
    _unsafe(repo)
    result = run_cli("plan", "wipe", "--as", "alice")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    assert line.startswith("runbook: error: runbooks/wipe.ipynb: cell 1: ")
    # both rules fire on this cell: the shell pattern and the os.system() call
    assert "call-without-confirm: calls os.system() (line 2)" in line
    assert "(and 1 more error(s))" in line
    assert "--force" in line
    assert json.loads(run_cli("plans", "--json").out) == []


def test_a_forced_plan_is_shown_as_forced_and_needs_review(repo: Repository, run_cli: Cli) -> None:
    _unsafe(repo)
    planned = run_cli("plan", "wipe", "--as", "alice", "--force", "--json")
    assert planned.code == 0, planned.err
    summary = json.loads(planned.out)
    assert summary["review_required"] is True
    assert {f["code"] for f in summary["forced"]} == {
        "mutation-without-confirm",
        "call-without-confirm",
    }
    plan_id = summary["id"]
    shown = json.loads(run_cli("show-plan", plan_id, "--json").out)
    assert shown["forced"] == summary["forced"] and not shown["ready"]
    review = run_cli("review", plan_id, "--as", "bob")
    assert review.code == 0, review.err
    assert "FORCED: planned with --force past 2 check error(s)" in review.out
    assert "call-without-confirm" in review.out
    human = run_cli("show-plan", plan_id)
    assert "FORCED" in human.out
    refused = run_cli("verify", plan_id)
    assert refused.code == 1 and "approv" in refused.err
