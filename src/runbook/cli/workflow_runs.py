"""``runbook workflow run | resume | runs | show``: running workflows and reading their record."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final
from urllib.parse import quote

import click

from runbook.cli.context import (
    acting_user,
    as_option,
    json_option,
    repository,
    store_session,
    store_sessions,
)
from runbook.cli.remote import remote
from runbook.cli.run_listing import RunListing, listing_options
from runbook.cli.types import WorkflowRunId
from runbook.cli.values import ParameterCommand, parameter_option
from runbook.cli.workflow_view import finish, follow, listing_row, print_shown, progress
from runbook.model.option_values import read_option_values
from runbook.model.workflows.workflow_run import WorkflowRun, WorkflowState
from runbook.orchestrate.workflows.workflow_summaries import task_summary, workflow_run_summary

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

    date = reference_date.date() if reference_date else None
    client = remote(ctx, as_user)
    if client is not None:
        body = {"parameters": read_option_values(parameters), "date": date and date.isoformat()}
        started = client.post(f"/workflows/{quote(name, safe='')}/runs", body)
        return finish(follow(client, started["id"], progress(as_json)), as_json)
    repo = repository(ctx)
    settings = settings_for(repo)
    keys = list(find_workflow(repo, settings, name).spec.tasks)
    with progress(as_json, keys) as show:
        request = manual_request(
            repo,
            name,
            started_by=acting_user(as_user, repo),
            parameters=read_option_values(parameters),
            reference_date=date,
            listener=lambda record: show(task_summary(record)),
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

    client = remote(ctx, as_user)
    if client is not None:
        started = client.post(f"/workflow-runs/{run_id}/resume")
        return finish(follow(client, started["id"], progress(as_json)), as_json)
    repo = repository(ctx)
    with store_session(repo) as session:
        keys = list(get_workflow_run(session, run_id).spec.tasks)
    with progress(as_json, keys) as show, store_sessions(repo) as sessions:
        run = resume_workflow(
            sessions,
            repo,
            settings_for(repo),
            run_id,
            acting_user(as_user, repo),
            lambda record: show(task_summary(record)),
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

    client = remote(ctx)
    if client is not None:
        rows = list(client.get("/workflow-runs", workflow=name, state=state, limit=limit))
        _LISTING.print(rows, as_json=as_json)
        return
    repo = repository(ctx)
    with store_session(repo) as session:
        runs = find_workflow_runs(
            session, workflow=name, state=WorkflowState(state) if state else None, limit=limit
        )
    _LISTING.print([workflow_run_summary(r) for r in runs], as_json=as_json)


@click.command("show")
@json_option
@click.argument("run_id", metavar="RUN", type=WorkflowRunId())
@click.pass_context
def show_command(ctx: click.Context, as_json: bool, run_id: str) -> None:
    """Show workflow run RUN: its parameters and each task's state, run and reports."""
    from runbook.orchestrate.workflows.workflow_history import show_workflow_run

    client = remote(ctx)
    if client is not None:
        print_shown(client.get(f"/workflow-runs/{run_id}"), as_json)
        return
    repo = repository(ctx)
    with store_session(repo) as session:
        run, tasks = show_workflow_run(session, run_id)
    print_shown({**workflow_run_summary(run), "tasks": [task_summary(t) for t in tasks]}, as_json)


_LISTING: Final = RunListing(
    summary=dict,
    columns=("run", "workflow", "date", "trigger", "by", "started", "state"),
    row=listing_row,
    empty="no workflow runs yet (start one with `runbook workflow run NAME`)",
)


def _finish(repo: Any, run: WorkflowRun, as_json: bool) -> int:
    from runbook.store.workflows.workflow_runs import list_tasks

    with store_session(repo) as session:
        tasks = list_tasks(session, run.id)
    return finish({**workflow_run_summary(run), "tasks": [task_summary(t) for t in tasks]}, as_json)
