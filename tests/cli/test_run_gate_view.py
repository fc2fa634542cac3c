"""What the operator sees before a confirm cell, and what a dry run shows of each one."""

from __future__ import annotations

import json
import os
import re

import nbformat
import pexpect
import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.cli.test_run import plan, run_json

pytestmark = pytest.mark.kernel

#: A token longer than the terminal is wide, and a line of many words: both must be whole.
LONG_TOKEN = "very_long_identifier_" + "x" * 70 + "_end_of_token"
LONG_LINE = "print(" + repr(" ".join(f"word{i}" for i in range(30))) + ")"
SECRET = "Zq8-gate-secret-Xk4"


def _gated(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "gated.ipynb",
        [
            ("code", "host = 'localhost'\npassword = ''", ["parameters"]),
            ("code", "print('checked', host)", ["precheck"]),
            ("code", f"{LONG_TOKEN} = 1\n{LONG_LINE}", ["confirm"]),
        ],
        parameters={
            "host": {"type": "str", "default": "localhost"},
            "password": {"type": "str", "secret": True},
        },
    )


def _plain(text: str) -> str:
    """The screen's text without styles (NO_COLOR keeps bold and dim)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _unboxed(text: str) -> str:
    """The screen's text without the panel's borders and the wrapping's line breaks."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", _plain(text))


def test_the_gate_shows_the_whole_source_wrapped_and_the_plans_values(
    repo: Repository,
) -> None:
    _gated(repo)
    plan_id = plan(repo, "gated", "-p", "host", "db1.example.com", "-p", "password", "env:PW")
    child = pexpect.spawn(
        RUNBOOK,
        ["run", plan_id, "--as", "dave"],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "40", "PW": SECRET},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 40),
    )
    child.expect(r"Run this mutative step\?")
    screen = _plain(child.before)
    screen = screen[screen.index("cell 3 of 4 [confirm]") :]  # the gate, from its panel on
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    lines = screen.splitlines()
    assert all(len(line.rstrip("\r")) <= 40 for line in lines), lines  # wrapped, not run over
    assert "…" not in screen and "..." not in screen  # and never cropped
    flat = _unboxed(screen)
    assert LONG_TOKEN in flat
    assert _unboxed(LONG_LINE) in flat
    assert "host='db1.example.com'" in flat
    assert "password=env:PW(secret:resolvedinthekernel)" in flat
    assert SECRET not in screen


def test_a_dry_run_shows_each_confirm_cell_with_its_values_and_runs_nothing(
    repo: Repository,
) -> None:
    _gated(repo)
    plan_id = plan(repo, "gated", "-p", "host", "db7", "-p", "password", "env:PW")
    code, outcome, err = run_json(repo, plan_id, "--dry-run", "--yes", PW=SECRET)
    assert code == 0, err
    flat = _unboxed(err)  # with --json, what people see goes to stderr
    assert LONG_TOKEN in flat and _unboxed(LONG_LINE) in flat
    assert "host='db7'" in flat and "password=env:PW" in flat
    assert "dryrun:notexecutedinadryrun" in flat
    assert SECRET not in err
    executed = nbformat.read(repo.root / str(outcome["notebook"]), as_version=4)
    assert executed.cells[3].get("outputs") == []  # its print never ran


def test_a_helpers_dry_run_lists_the_commands_and_changes_nothing(repo: Repository) -> None:
    path = write_runbook(
        repo.runbooks_dir / "helpers.ipynb",
        [
            ("code", "target = 'db1'", ["parameters"]),
            ("code", "print('checked', target)", ["precheck"]),
            (
                "code",
                "from runbook.helpers import sh\n"
                "sh(['touch', f'restarted-{target}'], mutative=True)\n"
                "sh('rm -rf data-dir', mutative=True)\n"
                "print('listed', sh('ls').returncode)",
                ["confirm"],
            ),
        ],
        parameters={"target": {"type": "str", "default": "db1"}},
    )
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["runbook"]["dry_run"] = "helpers"
    nbformat.write(notebook, path)
    assert runbook(repo, "check", "helpers").returncode == 0
    (repo.runbooks_dir / "data-dir").mkdir()
    plan_id = plan(repo, "helpers", "-p", "target", "web3")
    code, outcome, err = run_json(repo, plan_id, "--dry-run")
    assert code == 0 and outcome["state"] == "succeeded", err
    assert "executed with the helpers announcing" in err
    assert "would run: touch restarted-web3" in err
    assert "would run: rm -rf data-dir" in err
    assert "listed 0" in err  # the read-only sh ran
    assert outcome["announced"] == [  # for scripts, cell by cell
        {"cell": 3, "command": "touch restarted-web3"},
        {"cell": 3, "command": "rm -rf data-dir"},
    ]
    assert not (repo.runbooks_dir / "restarted-web3").exists()
    assert (repo.runbooks_dir / "data-dir").is_dir()
    log = json.loads(runbook(repo, "log", str(outcome["run"]), "--json").stdout)
    assert (2, "succeeded") in [(c["cell"], c["status"]) for c in log["cells"]]


def test_a_helpers_dry_run_does_not_execute_a_cell_acting_around_them(
    repo: Repository,
) -> None:
    path = write_runbook(
        repo.runbooks_dir / "around.ipynb",
        [
            ("code", "print('checked')", ["precheck"]),
            ("code", "import os\nos.remove('victim')", ["confirm"]),
        ],
    )
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["runbook"]["dry_run"] = "helpers"
    nbformat.write(notebook, path)
    (repo.runbooks_dir / "victim").write_text("still here")
    refused = runbook(repo, "plan", "around", "--as", "alice")
    assert refused.returncode == 1 and "dry-run-outside-helpers" in refused.stderr
    forced = plan(repo, "around", "--force")  # a forced plan needs a review, dry run or not
    assert runbook(repo, "review", forced, "--approve", "--as", "bob").returncode == 0
    code, _, err = run_json(repo, forced, "--dry-run", "--yes")
    assert code == 0, err
    assert "not executed: it calls os.remove() (line 2) directly" in err
    assert (repo.runbooks_dir / "victim").read_text() == "still here"
