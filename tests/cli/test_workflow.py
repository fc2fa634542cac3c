"""The issue's scenario end to end through the CLI: init, create, plan, review, tamper."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook.model.repository import Repository
from tests.conftest import Result

Cli = Callable[..., Result]


def _require_review_for_all(repo: Repository) -> None:
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('require = "tagged"', 'require = "all"'))


def test_create_plan_review_and_tamper(run_cli: Cli, repo: Repository) -> None:
    _require_review_for_all(repo)
    created = run_cli("create", "Restart database", "--as", "alice")
    assert created.code == 0, created.err
    assert "runbooks/restart-database.ipynb" in created.out

    planned = run_cli(
        "plan", "runbooks/restart-database.ipynb", "-p", "host", "db1", "--as", "alice", "--json"
    )
    assert planned.code == 0, planned.err
    plan = json.loads(planned.out)
    assert plan["parameters"] == {"host": "db1", "dry_run": False}
    assert plan["planned_by"] == "alice" and plan["review_required"]

    unreviewed = run_cli("verify", plan["id"])
    assert unreviewed.code == 1
    assert "needs an approval" in unreviewed.err and unreviewed.err.count("\n") == 1

    own = run_cli("review", plan["id"], "--approve", "--as", "alice")
    assert own.code == 1
    assert own.err == (
        f"runbook: error: plan {plan['id']}: alice planned it, so alice may "
        "not review it; a second person must review (use --as or "
        "RUNBOOK_USER)\n"
    )

    approved = run_cli("review", plan["id"], "--approve", "--as", "bob", "-m", "ok")
    assert approved.code == 0, approved.err
    assert "host = 'db1'" in approved.out and "confirm cells" in approved.out
    assert "+host = 'db1'" in approved.out  # the diff against the source runbook
    assert run_cli("verify", plan["id"]).code == 0

    shown = json.loads(run_cli("show-plan", plan["id"], "--json").out)
    assert shown["status"] == "approved"
    assert shown["reviews"][0]["reviewer"] == "bob"

    plan_file = repo.root / plan["notebook"]
    plan_file.write_text(plan_file.read_text().replace("db1", "db2"))
    tampered = run_cli("verify", plan["id"])
    assert tampered.code == 1
    assert "was modified after planning" in tampered.err
    listed = json.loads(run_cli("plans", "--json").out)
    assert [p["status"] for p in listed] == ["modified"]


def test_listing_commands(run_cli: Cli, repo: Repository) -> None:
    run_cli("create", "Restart database")
    run_cli("create", "--template", "report", "Weekly capacity")
    listed = json.loads(run_cli("list", "--json").out)
    assert [r["name"] for r in listed] == ["restart-database", "weekly-capacity"]
    assert listed[1]["parameters"]["reference_date"]["type"] == "date"
    shown = json.loads(run_cli("show", "restart-database", "--json").out)
    assert {"confirm", "precheck", "rollback"} <= {t for c in shown["cells"] for t in c["tags"]}
    human = run_cli("show", "restart-database")
    assert human.code == 0 and "Rollback" in human.out
    templates = json.loads(run_cli("templates", "--json").out)
    assert {"default", "report"} <= {t["name"] for t in templates}
    assert run_cli("plans").out.startswith("no plans yet")


def test_check_exits_non_zero_on_errors(run_cli: Cli, repo: Repository) -> None:
    run_cli("create", "Restart database")
    assert run_cli("check").code == 0
    path = repo.runbooks_dir / "restart-database.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "zz",
            "metadata": {},
            "outputs": [],
            "source": "!systemctl restart postgresql",
        }
    )
    path.write_text(json.dumps(notebook))
    result = run_cli("check", "restart-database", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["errors"] == 1
    assert report["runbooks"][0]["findings"][-1]["code"] == "mutation-without-confirm"


def test_create_refuses_to_overwrite_and_unknown_templates(run_cli: Cli) -> None:
    assert run_cli("create", "Restart database").code == 0
    again = run_cli("create", "Restart database")
    assert (again.code, again.err) == (
        1,
        "runbook: error: runbooks/restart-database.ipynb already exists; refusing to "
        "overwrite it\n",
    )
    unknown = run_cli("create", "-t", "nope", "X")
    assert unknown.code == 2 and "nope: no such template (known: default, report)" in unknown.err
    assert run_cli("create", "!!!").code == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("plan", "restart-databse"), 2, "restart-databse: no such runbook (did you mean"),
        (("plan", "restart-database", "-p", "hots", "x"), 2, "'hots': not a parameter"),
        (("plan", "restart-database", "-p", "dry_run", "maybe"), 2, "not a valid bool"),
        (("plan", "restart-database"), 2, "'host': is required but has no value"),
        (("plan", "../../etc/passwd"), 2, "is outside the repository"),
        (("review", "no-such-plan", "--approve"), 2, "no-such-plan: no such plan"),
        (("show-plan", "no-such-plan"), 2, "no such plan"),
        (("plan", "broken"), 1, "runbooks/broken.ipynb: not a valid notebook: invalid JSON"),
        (("plan", "restart-database", "--bogus"), 2, "No such option '--bogus'"),
        (("plan", "restart-database", "-f", "params.yaml"), 2, "params.yaml:2:1: invalid YAML"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(
    run_cli: Cli, repo: Repository, args: tuple[str, ...], code: int, message: str
) -> None:
    run_cli("create", "Restart database")
    (repo.runbooks_dir / "broken.ipynb").write_text("{ nope")
    (repo.root / "params.yaml").write_text("host: [unclosed\n")
    result = run_cli(*args)
    assert result.code == code, result.err
    assert message in result.err
    assert result.err.startswith("runbook: error: ") and result.err.count("\n") == 1
    assert list(repo.plans_dir.glob("*")) == []


def test_parameters_file_and_overrides(run_cli: Cli, repo: Repository) -> None:
    run_cli("create", "Weekly capacity", "-t", "report")
    (repo.root / "params.yaml").write_text("reference_date: 2026-11-01\ndays: 14\n")
    result = run_cli("plan", "weekly-capacity", "-f", "params.yaml", "-p", "days", "3", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["parameters"] == {"reference_date": "2026-11-01", "days": 3}


def test_outside_a_repository(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli("list")
    assert result.code == 2 and "not inside a runbook repository" in result.err
