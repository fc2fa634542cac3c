"""``runbook workflow run | resume | runs | show``: running workflows and reading their record."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import click
from rich.live import Live
from rich.table import Table

from runbook.cli.context import (
    acting_user,
    as_option,
    json_option,
    repository,
    store_session,
    store_sessions,
)
from runbook.cli.output import console, err_console, print_json, timestamp
from runbook.cli.run_listing import RunListing, listing_options
from runbook.cli.terminal_text import safe_markup
from runbook.cli.types import WorkflowRunId
from runbook.cli.values import ParameterCommand, parameter_option
from runbook.model.option_values import read_option_values
from runbook.model.workflows.workflow_run import TaskRecord, TaskState, WorkflowRun, WorkflowState
from runbook.orchestrate.workflows.workflow_summaries import task_summary, workflow_run_summary
from runbook.outcomes import exit_code_for_state

_STYLE: Final = {
    TaskState.PENDING: "dim",
    TaskState.RUNNING: "cyan",
    TaskState.SUCCEEDED: "green",
    TaskState.REUSED: "green",
    TaskState.FAILED: "red",
    TaskState.UPSTREAM_FAILED: "yellow",
    TaskState.INTERRUPTED: "red",
}
_EXIT_HELP: Final = (
    "Exit codes: 0 every task succeeded; 1 a task failed (the others downstream of it are "
    "upstream_failed); 2 usage (unknown workflow, parameter or run); 3 interrupted."
)


def register(group: click.Group) -> None:
    """Add the run, resume, runs and show commands to the ``workflow`` group."""
    for command in (run_command, resume_command, runs_command, show_command):
        group.add_command(command)


@click.command("run", epilog=_EXIT_HELP, cls=ParameterCommand)
@parameter_option("a workflow parameter")
@click.option(
    "--date",
    "reference_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The reference_date (default: today, UTC); date_ranges follow the workflow's "
    "sensor stencil, or the date alone.",
)
@as_option
@json_option
@click.argument("name", metavar="NAME")
@click.pass_context
def run_command(
    ctx: click.Context,
    parameters: tuple[tuple[str, str], ...],
    reference_date: dt.datetime | None,
    as_user: str | None,
    as_json: bool,
    name: str,
) -> int:
    """Run workflow NAME now: every task, in dependency order, independent ones in parallel.

    Each task is planned and run as a Runbook run of its own (see `runbook runs`); the live
    table shows each task's state. Reports go to <outputs>/<workflow run>/reports/.
    """
    from runbook.orchestrate.workflows.dag import start_workflow
    from runbook.orchestrate.workflows.workflow_files import find_workflow, settings_for
    from runbook.orchestrate.workflows.workflow_launch import manual_request

    repo = repository(ctx)
    settings = settings_for(repo)
    keys = list(find_workflow(repo, settings, name).spec.tasks)
    with _progress(keys, quiet=as_json) as listener:
        request = manual_request(
            repo,
            name,
            started_by=acting_user(as_user, repo),
            parameters=read_option_values(parameters),
            reference_date=reference_date.date() if reference_date else None,
            listener=listener,
        )
        with store_sessions(repo) as sessions:
            run = start_workflow(sessions, repo, settings, request)
    assert run is not None  # noqa: S101 - a manual run has no natural key to collide on
    return _finish(repo, run, as_json)


@click.command("resume", epilog=_EXIT_HELP)
@as_option
@json_option
@click.argument("run_id", metavar="RUN", type=WorkflowRunId())
@click.pass_context
def resume_command(ctx: click.Context, as_user: str | None, as_json: bool, run_id: str) -> int:
    """Run again only the tasks of workflow run RUN that did not succeed, and those after them.

    Tasks that succeeded are reused: downstream tasks read their executed notebooks. RUN's
    frozen definition and parameters are used, with the notebooks as they are now.
    """
    from runbook.orchestrate.workflows.dag import resume_workflow
    from runbook.orchestrate.workflows.workflow_files import settings_for
    from runbook.store.workflows.workflow_runs import get_workflow_run

    repo = repository(ctx)
    with store_session(repo) as session:
        keys = list(get_workflow_run(session, run_id).spec.tasks)
    with _progress(keys, quiet=as_json) as listener, store_sessions(repo) as sessions:
        run = resume_workflow(
            sessions, repo, settings_for(repo), run_id, acting_user(as_user, repo), listener
        )
    return _finish(repo, run, as_json)


@click.command("runs")
@listing_options(WorkflowState)
@click.pass_context
def runs_command(
    ctx: click.Context, name: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """List workflow runs (of workflow NAME), newest first."""
    from runbook.orchestrate.workflows.workflow_history import find_workflow_runs

    repo = repository(ctx)
    with store_session(repo) as session:
        runs = find_workflow_runs(
            session, workflow=name, state=WorkflowState(state) if state else None, limit=limit
        )
    _LISTING.print(runs, as_json=as_json)


@click.command("show")
@json_option
@click.argument("run_id", metavar="RUN", type=WorkflowRunId())
@click.pass_context
def show_command(ctx: click.Context, as_json: bool, run_id: str) -> None:
    """Show workflow run RUN: its parameters and each task's state, run and reports."""
    from runbook.orchestrate.workflows.workflow_history import show_workflow_run

    repo = repository(ctx)
    with store_session(repo) as session:
        run, tasks = show_workflow_run(session, run_id)
    if as_json:
        print_json({**workflow_run_summary(run), "tasks": [task_summary(t) for t in tasks]})
        return
    console.print(
        f"[bold]{safe_markup(run.id)}[/bold]  {safe_markup(run.workflow)}  {run.state.value}"
    )
    console.print(
        f"source: {safe_markup(run.source)}  trigger: {run.trigger.value}  by: {run.started_by}"
    )
    if run.reference_date:
        console.print(f"reference_date: {run.reference_date.isoformat()}")
    for key, value in run.parameters.items():
        console.print(f"  {safe_markup(key)} = {safe_markup(repr(value))}")
    if run.message:
        console.print(f"message: {safe_markup(run.message)}")
    console.print(_task_table(tasks))


def _row(run: WorkflowRun) -> tuple[str, ...]:
    return (
        run.id,
        safe_markup(run.workflow),
        run.reference_date.isoformat() if run.reference_date else "",
        run.trigger.value,
        safe_markup(run.started_by),
        timestamp(run.started_at),
        run.state.value,
    )


_LISTING: Final = RunListing(
    summary=workflow_run_summary,
    columns=("run", "workflow", "date", "trigger", "by", "started", "state"),
    row=_row,
    empty="no workflow runs yet (start one with `runbook workflow run NAME`)",
)


def _finish(repo: Any, run: WorkflowRun, as_json: bool) -> int:
    from runbook.store.workflows.workflow_runs import list_tasks

    with store_session(repo) as session:
        tasks = list_tasks(session, run.id)
    if as_json:
        print_json({**workflow_run_summary(run), "tasks": [task_summary(t) for t in tasks]})
    else:
        shown = run.state.value if run.state is not WorkflowState.SUCCEEDED else "succeeded"
        err_console.print(f"workflow run {run.id}: {shown}")
        if run.message:
            err_console.print(safe_markup(run.message))
        for task in tasks:
            for report in task.reports:
                console.print(f"report: {safe_markup(report)}")
        console.print(f"details: runbook workflow show {run.id}")
    return exit_code_for_state(run.state)


def _task_table(tasks: list[TaskRecord]) -> Table:
    table = Table("task", "state", "tries", "run", "message", box=None)
    for task in tasks:
        style = _STYLE.get(task.state, "")
        table.add_row(
            safe_markup(task.key),
            f"[{style}]{task.state.value}[/{style}]" if style else task.state.value,
            str(task.attempts or ""),
            task.run_id or "",
            safe_markup((task.message or "")[:100]),
        )
    return table


@contextmanager
def _progress(keys: list[str], *, quiet: bool) -> Iterator[Any]:
    """A listener showing task states: a live table on a terminal, else one line each."""
    latest: dict[str, TaskRecord] = {}
    lock = threading.Lock()
    live_display = not quiet and sys.stderr.isatty()

    def render() -> Table:
        return _task_table([latest.get(key) or _pending(key) for key in keys])

    live = Live(render(), console=err_console, refresh_per_second=4) if live_display else None

    def listen(record: TaskRecord) -> None:
        with lock:
            latest[record.key] = record
            if live is not None:
                live.update(render())
            elif not quiet:
                note = f" ({record.message})" if record.message else ""
                err_console.print(f"{record.key}: {record.state.value}{safe_markup(note)}")

    if live is None:
        yield listen
        return
    with live:
        yield listen


def _pending(key: str) -> TaskRecord:
    return TaskRecord(workflow_run_id="", key=key)
