"""``runbook runs`` and ``runbook log``."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json, timestamp
from runbook.cli.remote import remote
from runbook.cli.terminal_text import ansi_text, safe_markup
from runbook.cli.types import PlanId, RunId
from runbook.model.cells import cell_label
from runbook.model.ids import run_folder
from runbook.model.repository import Repository
from runbook.model.run import RunState
from runbook.orchestrate.run_history import current_run, find_runs, show_run
from runbook.orchestrate.summaries import run_log_summary, run_summary


@click.command("runs")
@click.option("--plan", "plan_id", type=PlanId(), help="Only runs of this plan.")
@click.option("--state", type=click.Choice([s.value for s in RunState]), help="Only this state.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_context
def runs_command(
    ctx: click.Context, plan_id: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """List runs, newest first. Runs whose process died show as interrupted."""
    client = remote(ctx)
    if client is not None:
        runs = list(client.get("/runs", plan=plan_id, state=state, limit=limit))
    else:
        repo = repository(ctx)
        with store_session(repo) as session:
            found = find_runs(
                session,
                repo,
                plan_id=plan_id,
                state=RunState(state) if state else None,
                limit=limit,
            )
        runs = [run_summary(r) for r in found]
    if as_json:
        print_json(runs)
        return
    table = Table("run", "plan", "executor", "mode", "started", "duration", "state", box=None)
    for run in runs:
        duration = f"{run['duration']:.1f} s" if run["duration"] is not None else "…"
        table.add_row(
            run["id"],
            run["plan"],
            safe_markup(run["executor"]),
            run["mode"],
            timestamp(datetime.fromisoformat(run["started_at"])),
            duration,
            run["state"],
        )
    console.print(table if runs else "no runs yet: runbook run PLAN")


@click.command("log")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the run ends.")
@json_option
@click.argument("run_id", metavar="RUN", type=RunId())
@click.pass_context
def log_command(ctx: click.Context, follow: bool, as_json: bool, run_id: str) -> None:
    """Show what RUN did, cell by cell; --follow streams a run in progress."""
    client = remote(ctx)
    if client is not None:
        if as_json:
            print_json(client.get(f"/runs/{run_id}/cells"))
            return
        # The server's event stream is the log as it is written, to the run's end.
        for event in client.events(run_id):
            console.print(render_event(event), highlight=False)
        return
    repo = repository(ctx)
    with store_session(repo) as session:
        run, events = show_run(session, repo, run_id)
    # The log sits beside the notebook the engine writes: runs/<run>/log.jsonl.
    log_file = run_folder(repo, run.id) / "log.jsonl"
    if as_json:
        print_json(run_log_summary(run, events))
        return
    position = _print_log(log_file, 0)
    while follow and not _finished(repo, run.id):
        time.sleep(0.2)
        position = _print_log(log_file, position)
    _print_log(log_file, position)


def _finished(repo: Repository, run_id: str) -> bool:
    with store_session(repo) as session:
        return current_run(session, repo, run_id).state.finished


def _print_log(path: Path, position: int) -> int:
    """Print complete lines after ``position``; return the new position."""
    if not path.exists():
        return position
    with path.open("rb") as stream:
        stream.seek(position)
        chunk = stream.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode("utf-8").splitlines():
        console.print(_render(json.loads(line)), highlight=False)
    return position + len(complete)


def render_event(event: dict[str, Any]) -> str | Text:
    """One event of a server's stream, printed as its line of the log."""
    return _render(
        {**event["data"], "kind": event["kind"], "at": event["at"], "cell": event["cell"]}
    )


def _render(record: dict[str, Any]) -> str | Text:
    kind = record.get("kind", "")
    at = record.get("at", "")[11:19]
    if kind == "cell.output":
        return ansi_text(str(record.get("text", "")).rstrip("\n"))
    if kind == "cell.started":
        tags = ", ".join(record.get("tags", []))
        return f"[dim]{at}[/dim] [bold]▶ {cell_label(record['cell'])}[/bold]" + (
            " " + safe_markup(f"[{tags}]") if tags else ""
        )
    if kind == "cell.finished":
        duration = record.get("duration")
        took = f" in {duration:.2f} s" if duration is not None else ""
        error = f": {safe_markup(record['error'])}" if record.get("error") else ""
        return f"[dim]{at}[/dim]   {cell_label(record['cell'])} {record['status']}{took}{error}"
    if kind == "cell.decided":
        return (
            f"[dim]{at}[/dim]   {cell_label(record['cell'])}: {record['decision']} by "
            f"{safe_markup(record['by'])}"
        )
    if kind == "run.started":
        return (
            f"[dim]{at}[/dim] run started by {safe_markup(record.get('executor', ''))} "
            f"({record.get('mode')})"
        )
    if kind == "run.finished":
        message = f": {safe_markup(record['message'])}" if record.get("message") else ""
        return f"[dim]{at}[/dim] run {record['state']}{message}"
    return safe_markup(json.dumps(record))
