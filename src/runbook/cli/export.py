"""``runbook export``: a run's executed notebook as a sanitized HTML, Markdown or PDF report.

Where it is written: by default ``runs/<run>/report.<ext>``, a path built from the run's id
and kept inside the repository by the resolver, like every name resolved there. A path the
local user types with ``-o`` is theirs: absolute or relative to where they are, written
wherever they name with their own permissions, as ``cp`` would (``SECURITY.md``, T4). Only
this command offers it; the API will not (a caller over the network names no path).
"""

from __future__ import annotations

from pathlib import Path

import click

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.cli.types import RunId
from runbook.engine.report import FORMATS, report_path, write_report
from runbook.errors import UsageError
from runbook.model.repository import Repository
from runbook.orchestrate.report_records import report_record
from runbook.orchestrate.run_artifacts import artifact_store, stored_notebook
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
    help="Where to write it: any path, relative to the current folder (default: "
    "runs/RUN/report.EXT in the repository).",
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
    destination = _typed_destination(output) if output is not None else None
    with store_session(repo) as session:
        run, events = show_run(session, repo, run_id)
        record = report_record(session, repo, run)
    # From the shared artifact store ([service] artifacts) when a server executed it.
    notebook = stored_notebook(artifact_store(repo), repo, run)
    written = write_report(
        notebook,
        destination or report_path(repo.root, run, fmt),
        fmt,
        run=run,
        events=events,
        record=record,
    )
    shown = _shown(repo, written)
    if as_json:
        print_json({"run": run.id, "format": fmt, "path": shown})
        return
    console.print(shown, markup=False)


def _typed_destination(output: str) -> Path:
    """The file the local user named: relative to their current folder, ``~`` expanded.

    Not confined to the repository: it is their own file system, written with their own
    permissions. Still one clear error for a name that is no file name.
    """
    if "\x00" in output or not output.strip():
        raise UsageError(f"-o {output!r}: not a file name")
    path = Path(output).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if path.is_dir():
        raise UsageError(f"-o {output}: is a folder; name the report's file")
    return path


def _shown(repo: Repository, written: Path) -> str:
    """A path inside the repository as stored (relative); one outside it in full."""
    resolved = written.resolve()
    return repo.relative(resolved) if resolved.is_relative_to(repo.root) else str(resolved)
