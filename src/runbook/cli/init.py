"""``runbook init [DIR]``."""

from __future__ import annotations

from pathlib import Path

import click

from runbook.cli.context import store_session
from runbook.cli.output import console
from runbook.model.repository import find_repository
from runbook.orchestrate.initialize import init_repository


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Make DIR (default: here) a runbook repository.

    Creates runbooks/, templates/, workflows/, playbooks/, catalog/, runs/ and .runbook/,
    runbook.toml, .gitignore entries, a git repository if DIR is not in one, and a git clean
    filter so notebooks under runbooks/ and templates/ are committed without outputs while
    your working copy keeps them. Running it again changes nothing.
    """
    report = init_repository(directory)
    with store_session(find_repository(report.root)):
        pass
    if not report.changed:
        console.print(f"{report.root}: already a runbook repository; nothing changed")
        return
    for change in report.changes:
        console.print(f"  {change}")
    console.print(f"Initialised runbook repository in {report.root}")
    console.print('Next: runbook create "Restart database"')
