"""A playbook reviewed as a whole: planned, approved by a second person, run from the plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
import yaml

from runbook.model.repository import Repository, find_repository
from tests.cli.test_standing_command import done, setup
from tests.conftest import Result

Cli = Callable[..., Result]


def shell_playbook(repo: Repository, tags: list[str] | None = None) -> None:
    playbook: dict[str, Any] = {
        "name": "touch",
        "version": "1.0",
        "parameters": {"mark": "x"},
        "inventory": {"targets": [{"name": "a"}, {"name": "b"}]},
        "steps": [{"name": "touch", "shell": "touch {{ target.name }}.{{ params.mark }}"}],
    }
    if tags is not None:
        playbook["tags"] = tags
    (repo.root / "playbooks" / "touch.yml").write_text(yaml.safe_dump(playbook))


def marks(repo: Repository) -> set[str]:
    return {p.name for p in repo.root.glob("*.x")} | {p.name for p in repo.root.glob("*.y")}


def planned(run_cli: Cli, *args: str) -> dict[str, Any]:
    result = run_cli("playbook", "plan", *args, "--as", "alice", "--json")
    assert result.code == 0, result.err
    summary: dict[str, Any] = json.loads(result.out)
    return summary


def test_a_tagged_playbook_runs_only_from_an_approved_plan(run_cli: Cli, repo: Repository) -> None:
    shell_playbook(repo, tags=["critical"])
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0
    refused = run_cli("playbook", "run", "touch")
    assert refused.code == 4, refused.err
    assert "playbook touch needs review" in refused.err and "runbook playbook plan touch" in (
        refused.err
    )
    assert marks(repo) == set()  # shell steps do not bypass review
    plan = planned(run_cli, "touch", "-p", "mark", "y")
    assert plan["review_required"] and plan["parameters"] == {"mark": "y"}
    assert plan["playbook"] == "touch" and plan["revision"] == 1
    unapproved = run_cli("playbook", "run", "--plan", plan["id"])
    assert unapproved.code == 4 and "needs" in unapproved.err
    own = run_cli("review", plan["id"], "--approve", "--as", "alice")
    assert own.code != 0  # the planner cannot approve their own playbook plan
    review = run_cli("review", plan["id"], "--approve", "--as", "bob")
    assert review.code == 0, review.err
    assert run_cli("verify", plan["id"]).code == 0
    ran = run_cli("run", plan["id"], "--json")  # `run` runs a playbook's plan too
    assert ran.code == 0, ran.err
    record = json.loads(ran.out)
    assert record["state"] == "succeeded"
    assert marks(repo) == {"a.y", "b.y"}
    again = run_cli("playbook", "run", "--plan", plan["id"])
    assert again.code == 4 and "spent" in again.err  # a new run needs a new plan


def test_a_plan_freezes_its_revision_and_refuses_new_values(run_cli: Cli, repo: Repository) -> None:
    shell_playbook(repo, tags=["critical"])
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0
    plan = planned(run_cli, "touch")
    changed = yaml.safe_load((repo.root / "playbooks" / "touch.yml").read_text())
    changed["steps"][0]["shell"] = "touch {{ target.name }}.y"
    (repo.root / "playbooks" / "touch.yml").write_text(yaml.safe_dump(changed))
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0  # revision 2
    assert run_cli("review", plan["id"], "--approve", "--as", "bob").code == 0
    values = run_cli("playbook", "run", "--plan", plan["id"], "-p", "mark", "y")
    assert values.code == 2 and "frozen" in values.err
    assert run_cli("playbook", "run", "--plan", plan["id"]).code == 0
    assert marks(repo) == {"a.x", "b.x"}  # revision 1, as planned and reviewed
    status = json.loads(run_cli("playbook", "runs", "--json").out)
    assert [r["revision"] for r in status] == [1]


def test_the_reviewer_sees_the_frozen_playbook(run_cli: Cli, repo: Repository) -> None:
    shell_playbook(repo, tags=["critical"])
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0
    plan = planned(run_cli, "touch", "-p", "mark", "y")
    shown = run_cli("review", plan["id"], "--as", "bob")
    assert shown.code == 0, shown.err
    assert "Playbook touch (revision 1, version 1.0)" in shown.out
    assert "touch {{ target.name }}.{{ params.mark }}" in shown.out
    assert "Traceback" not in shown.out + shown.err


def test_an_untagged_shell_playbook_needs_no_plan_unless_review_require_is_all(
    run_cli: Cli, repo: Repository
) -> None:
    shell_playbook(repo)
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0
    assert run_cli("playbook", "run", "touch").code == 0
    toml = repo.root / "runbook.toml"
    toml.write_text(toml.read_text().replace('require = "tagged"', 'require = "all"'))
    assert find_repository(repo.root).config.review.require == "all"
    refused = run_cli("playbook", "run", "touch")
    assert refused.code == 4 and "needs review" in refused.err


def test_bad_input_is_one_line(run_cli: Cli, repo: Repository) -> None:
    shell_playbook(repo)
    assert run_cli("playbook", "import", "playbooks/touch.yml").code == 0
    for args, code, words in (
        (("playbook", "plan", "nope"), 2, "nope"),
        (("playbook", "plan", "touch", "-p", "other", "1"), 2, "other"),
        (("playbook", "run"), 2, "--plan"),
        (("playbook", "run", "--plan", "no-such-plan"), 2, "no-such-plan"),
    ):
        result = run_cli(*args)
        assert result.code == code, (args, result.err)
        assert words in result.err and len(result.err.strip().splitlines()) == 1, result.err


@pytest.mark.kernel
def test_an_approved_plan_covers_its_runbook_steps_at_their_planned_content(
    run_cli: Cli, repo: Repository
) -> None:
    setup(repo)  # playbook web: a runbook step tagged critical, no standing approval
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    plan = planned(run_cli, "web")
    assert plan["review_required"]  # its step runbook needs review, so the whole plan does
    assert run_cli("review", plan["id"], "--approve", "--as", "bob").code == 0
    ran = run_cli("playbook", "run", "--plan", plan["id"], "--yes", "--json")
    assert ran.code == 0, ran.err
    assert done(repo) == {"web1.done", "web2.done"}
    step_plans = [
        p
        for p in json.loads(run_cli("plans", "--json").out)
        if p["runbook"] == "runbooks/restart.ipynb"
    ]
    assert {p["standing_approval"] for p in step_plans} == {f"plan:{plan['id']}"}
    verified = run_cli("audit", "verify")
    assert verified.code == 0, verified.out + verified.err


@pytest.mark.kernel
def test_a_step_runbook_changed_since_planning_voids_the_approval(
    run_cli: Cli, repo: Repository
) -> None:
    setup(repo)
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    plan = planned(run_cli, "web")
    assert run_cli("review", plan["id"], "--approve", "--as", "bob").code == 0
    path = repo.runbooks_dir / "restart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].source += "\nPath('extra.done').write_text('1')"
    nbformat.write(notebook, path)
    refused = run_cli("playbook", "run", "--plan", plan["id"], "--yes")
    assert refused.code == 4, refused.err
    assert "runbooks/restart.ipynb changed" in refused.err
    assert done(repo) == set()  # refused before the first target
    assert json.loads(run_cli("playbook", "runs", "--json").out) == []


def test_a_failed_run_of_a_plan_is_retried_under_it_and_success_spends_it(
    run_cli: Cli, repo: Repository
) -> None:
    playbook = {
        "name": "check",
        "version": "1.0",
        "tags": ["critical"],
        "inventory": {"targets": [{"name": "a"}, {"name": "b"}]},
        "steps": [{"name": "ready", "shell": "test -e ready.{{ target.name }}"}],
        "strategy": {"max_failures": 1},
    }
    (repo.root / "playbooks" / "check.yml").write_text(yaml.safe_dump(playbook))
    (repo.root / "ready.a").touch()
    assert run_cli("playbook", "import", "playbooks/check.yml").code == 0
    plan = planned(run_cli, "check")
    assert run_cli("review", plan["id"], "--approve", "--as", "bob").code == 0
    failed = run_cli("playbook", "run", "--plan", plan["id"], "--json")
    assert failed.code == 1, failed.err
    first = json.loads(failed.out)["id"]
    assert run_cli("verify", plan["id"]).code == 0  # a failed run spends nothing
    (repo.root / "ready.b").touch()
    retried = run_cli("playbook", "retry", first, "--failed", "--json")
    assert retried.code == 0, retried.err
    assert json.loads(retried.out)["plan_id"] == plan["id"]
    spent = run_cli("playbook", "run", "--plan", plan["id"])
    assert spent.code == 4 and "spent" in spent.err


def test_tags_must_be_a_list_of_words(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "playbooks" / "bad.yml").write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "version": "1",
                "tags": ["ok", 3],
                "inventory": {"targets": [{"name": "a"}]},
                "steps": [{"name": "s", "shell": "true"}],
            }
        )
    )
    result = run_cli("playbook", "validate", "playbooks/bad.yml")
    assert result.code == 1
    assert "tags[1]" in result.out + result.err


def test_a_workflow_is_approved_for_its_own_triggers_only(run_cli: Cli, repo: Repository) -> None:
    from tests.cli.test_standing_command import SOLO
    from tests.orchestrate.workflows.test_dag import notebook

    (repo.root / "workflows" / "solo.yml").write_text(SOLO)
    notebook(repo.root / "workflows" / "only.ipynb", "greeting = ''", "print(greeting)")
    for args, words in (
        (("--for", "workflow:solo", "--bound", "greeting=*"), "schedule:solo or sensor:solo"),
        (("--for", "schedule:other", "--bound", "greeting=*"), "schedule:other"),
        (("--for", "schedule:solo"), "greeting needs a --bound"),
        (("--for", "sensor:solo", "--bound", "greeting=*", "--bound", "x=1"), "x"),
    ):
        result = run_cli("approve-standing", "solo", "--workflow", *args, "--as", "bob")
        assert result.code == 2, (args, result.err)
        assert words in result.err and len(result.err.strip().splitlines()) == 1
    granted = run_cli(
        "approve-standing",
        "solo",
        "--workflow",
        "--for",
        "schedule:solo",
        "--bound",
        "greeting=hello",
        "--as",
        "bob",
        "--json",
    )
    assert granted.code == 0, granted.err
    approval = json.loads(granted.out)
    assert approval["runbook"] == "workflows/solo.yml" and approval["callers"] == ["schedule:solo"]
