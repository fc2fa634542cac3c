"""What a command imports before it does anything: ``--help`` nothing, listings no engine."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from runbook.cli import COMMANDS, cli
from runbook.model.repository import Repository

#: Imported by a command, then the modules it loaded that match these prefixes are printed.
PROBE = """\
import json, sys
from runbook.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("nbclient", "jupyter_client", "nbconvert", "runbook.engine.executor", "ipykernel")
#: What listing runs has no use for: YAML and the workflow and playbook definitions (the
#: store's lease table names their records, not their specs), migrations (the schema is at
#: head), templates and notebooks. (Not pydantic: settings are loaded with the repository.)
NOT_FOR_RUNS = (
    "yaml",
    "runbook.model.workflows.workflow",
    "runbook.model.playbooks.playbook",
    "runbook.model.yaml_files",
    "alembic",
    "jinja2",
    "nbformat",
)


def _imported(cwd: str, *args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_help_imports_no_command(repo: Repository) -> None:
    modules = _imported(str(repo.root), "--help")
    commands = {m for m in modules if m.startswith("runbook.cli.")} - {"runbook.cli.errors"}
    assert commands == set()
    assert not {m for m in modules if m.startswith(("sqlalchemy", "nbformat", *HEAVY))}
    # Nor what rendering, settings and definitions need: --help reads no repository.
    unneeded = ("rich", "pydantic", "jinja2", "yaml", "alembic", "runbook.model", "runbook.config")
    assert not {m for m in modules if m.startswith(unneeded)}


def test_listing_runs_imports_no_engine(repo: Repository) -> None:
    modules = _imported(str(repo.root), "runs")
    assert "runbook.cli.runs" in modules
    assert not {m for m in modules if m.startswith(HEAVY)}


def test_listing_runs_imports_no_yaml_nor_definitions(repo: Repository) -> None:
    _imported(str(repo.root), "runs")  # creates the store: only the first command migrates
    modules = _imported(str(repo.root), "runs")
    unneeded = {m for m in modules if m.startswith(NOT_FOR_RUNS)}
    assert unneeded <= {
        "runbook.model.workflows.workflow_run",
        "runbook.model.playbooks.playbook_run",
    }


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_exists_and_has_a_one_line_summary(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command) and command.name == name
    summary = COMMANDS[name][1]
    assert summary.endswith(".") and "\n" not in summary and len(summary) <= 60
    assert command.get_short_help_str(100) == summary
