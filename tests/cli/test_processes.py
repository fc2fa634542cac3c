"""The real `runbook` command in real processes: papermill, a terminal, shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pexpect
import pytest

from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK, runbook


def _add_secret_runbook(repo: Repository) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "host = 'localhost'\nport = 1", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(
            "import json\nprint(json.dumps({'host': host, 'port': port, "
            "'password_length': len(password)}))"
        ),
    ]
    notebook.metadata["runbook"] = {
        "title": "Connect",
        "parameters": {
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 5432},
            "password": {"type": "str", "secret": True},
        },
    }
    nbformat.write(notebook, repo.runbooks_dir / "connect.ipynb")


@pytest.mark.kernel
def test_a_planned_notebook_runs_unchanged_under_plain_papermill(
    repo: Repository, tmp_path: Path
) -> None:
    _add_secret_runbook(repo)
    planned = runbook(
        repo,
        "plan",
        "connect",
        "-p",
        "host",
        "db1",
        "-p",
        "password",
        "env:CANARY_PASSWORD",
        "--as",
        "alice",
        "--json",
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    plan_file = repo.root / plan["notebook"]
    assert "s3cr3t-canary" not in plan_file.read_text()
    output = tmp_path / "out.ipynb"
    executed = subprocess.run(
        [
            str(Path(sys.executable).with_name("papermill")),
            str(plan_file),
            str(output),
            "--kernel",
            "python3",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "CANARY_PASSWORD": "s3cr3t-canary"},
    )
    assert executed.returncode == 0, executed.stderr
    result = nbformat.read(output, as_version=4)
    printed = json.loads(result.cells[-1].outputs[0]["text"])
    assert printed == {"host": "db1", "port": 5432, "password_length": 13}
    assert [c.metadata.get("tags", []) for c in result.cells] == [
        ["parameters"],
        ["injected-parameters"],
        [],
    ]
    assert runbook(repo, "verify", plan["id"]).returncode == 0


def test_missing_required_values_are_asked_for_on_a_terminal(repo: Repository) -> None:
    runbook(repo, "create", "Restart database")
    child = pexpect.spawn(
        RUNBOOK,
        ["plan", "restart-database", "--as", "alice"],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=60,
    )
    child.expect(r"host \(str\) — the host to act on \[localhost\]: ")
    child.sendline("db7")
    child.expect("Planned ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    plans = json.loads(runbook(repo, "plans", "--json").stdout)
    assert plans[0]["parameters"]["host"] == "db7"


def test_without_a_terminal_a_missing_value_fails_clearly(repo: Repository) -> None:
    runbook(repo, "create", "Restart database")
    result = runbook(repo, "plan", "restart-database")
    assert result.returncode == 2
    assert result.stderr == (
        "runbook: error: runbooks/restart-database.ipynb: parameter "
        "'host': is required but has no value; pass -p host VALUE\n"
    )


def test_shell_completion_of_runbooks_plans_and_templates(repo: Repository) -> None:
    runbook(repo, "create", "Restart database")
    plan = json.loads(runbook(repo, "plan", "restart-database", "-p", "host", "x", "--json").stdout)

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        result = runbook(
            repo, _RUNBOOK_COMPLETE="bash_complete", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1)
        )
        return [row.split(",", 1)[1] for row in result.stdout.splitlines()]

    assert complete("runbook plan rest") == ["restart-database"]
    assert complete("runbook review restart") == [plan["id"]]
    assert complete("runbook create --template re") == ["report"]
    assert "complete -o nosort -F" in runbook(repo, "completion", "bash").stdout
