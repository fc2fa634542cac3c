"""``runbook export``: a run's executed notebook as a sanitized HTML, Markdown or PDF report."""

from __future__ import annotations

from pathlib import Path

import click

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.cli.types import RunId
from runbook.engine.report import FORMATS, report_path, write_report
from runbook.model.ids import run_notebook
from runbook.model.notebook import read_notebook
from runbook.orchestrate.run_history import show_run


@click.command("export")
@click.argument("run_id", metavar="RUN", type=RunId())
@click.option(
    "--to",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="html",
    show_default=True,
    help="Report format (pdf needs Chromium).",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Where to write it, inside the repository (default: runs/RUN/report.EXT).",
)
@json_option
@click.pass_context
def export_command(
    ctx: click.Context, run_id: str, fmt: str, output: str | None, as_json: bool
) -> None:
    """Export run RUN as a report: its summary, cell timings and decisions, and outputs.

    Notebook output is treated as hostile: scripts, event handlers and unsafe links are
    removed, and the HTML carries a Content-Security-Policy that forbids script and fetches.
    """
    repo = repository(ctx)
    # Check the destination before any work, so a bad -o fails fast with exit code 2.
    destination = repo.resolve(output, base=Path.cwd()) if output else None
    with store_session(repo) as session:
        run, events = show_run(session, repo, run_id)
    notebook = read_notebook(run_notebook(repo, run), run.notebook_path)
    written = write_report(
        notebook, destination or report_path(repo.root, run, fmt), fmt, run=run, events=events
    )
    relative = repo.relative(written)
    if as_json:
        print_json({"run": run.id, "format": fmt, "path": relative})
        return
    console.print(relative, markup=False)
