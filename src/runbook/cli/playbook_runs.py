"""``runbook playbook run | retry | cancel | runs | status``: playbook runs and their targets."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import click

from runbook.cli.context import (
    acting_user,
    as_option,
    json_option,
    repository,
    store_session,
    store_sessions,
)
from runbook.cli.output import console, err_console, print_json, timestamp
from runbook.cli.playbook_remote import Status, remote_start, remote_status, run_from, status_from
from runbook.cli.playbook_view import (
    LiveView,
    counts_line,
    listening,
    state_text,
    target_table,
)
from runbook.cli.remote import remote
from runbook.cli.run_listing import RunListing, listing_options
from runbook.cli.terminal_text import safe_markup
from runbook.cli.types import PlaybookName, PlaybookRunId
from runbook.cli.values import ParameterCommand, parameter_option
from runbook.model.option_values import read_option_values
from runbook.model.playbooks.playbook_run import PlaybookRun, PlaybookRunState
from runbook.orchestrate.playbooks.playbook_summaries import (
    playbook_run_summary as summary,
)
from runbook.orchestrate.playbooks.playbook_summaries import target_summary
from runbook.outcomes import EXIT_OK, exit_code_for_state

if TYPE_CHECKING:
    from runbook.model.option_values import CommandLineText
    from runbook.model.playbooks.playbook_run import PlaybookDefinition, TargetRecord
    from runbook.model.repository import Repository
    from runbook.orchestrate.remote_client import RemoteClient

_EXIT_HELP: Final = (
    "Exit codes: 0 every target succeeded; 1 a target failed (or was skipped after too many "
    "failures); 2 usage (unknown playbook, version, parameter or run); 3 cancelled or "
    "interrupted; 4 refused: a target is in use by another running playbook run."
)


version_option = click.option(
    "--version", "version", metavar="V", help="The newest revision declaring version V."
)
revision_option = click.option(
    "--revision", type=click.IntRange(min=1), metavar="N", help="Revision N exactly."
)


def register(group: click.Group) -> None:
    """Add the run, retry, cancel, runs and status commands to the ``playbook`` group."""
    for command in (run_command, retry_command, cancel_command, runs_command, status_command):
        group.add_command(command)


@click.command("run", epilog=_EXIT_HELP, cls=ParameterCommand)
@version_option
@revision_option
@parameter_option("a playbook parameter")
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Runbook steps run without a person: confirm cells and manual steps are answered "
    "yes (recorded as you). Without it, a runbook step reaching such a cell fails its target.",
)
@click.option(
    "--plan",
    "plan_id",
    metavar="PLAN",
    help="Run a reviewed plan of the playbook (`runbook playbook plan`): its frozen "
    "revision and values. NAME may then be left out.",
)
@as_option
@json_option
@click.argument("name", metavar="NAME", type=PlaybookName(), required=False)
@click.pass_context
def run_command(
    ctx: click.Context,
    version: str | None,
    revision: int | None,
    parameters: tuple[tuple[str, str], ...],
    yes: bool,
    plan_id: str | None,
    as_user: str | None,
    as_json: bool,
    name: str | None,
) -> int:
    """Run imported playbook NAME across its inventory, batch after batch.

    The run record keeps a frozen copy of the revision it runs (later imports change
    nothing in it) and one record per target, PENDING at first, then RUNNING and
    SUCCEEDED, FAILED, SKIPPED or CANCELLED (ADDED and REMOVED for inventory drift;
    INTERRUPTED when the run's process died while the target ran: outcome unknown).
    With `lock: true` (the default) the run is refused if another running playbook run
    holds one of its targets. Shell steps run as child processes; runbook steps are
    planned with the target's values and run in a kernel each. A terminal shows a live
    table; cancel from elsewhere with `runbook playbook cancel RUN`, or press Ctrl-C
    (like `cancel --interrupt`). See `runbook playbook --help` for batches,
    max_failures, on_failure and drift.
    """
    from runbook.store.playbooks.playbook_definitions import get_definition

    given = read_option_values(parameters)
    if name is None and plan_id is None:
        raise click.UsageError("name the playbook to run, or its reviewed plan with --plan")
    client = remote(ctx, as_user)
    if client is not None:
        if name is None:
            raise click.UsageError("with a server, name the playbook of the plan too")
        started = remote_start(
            client,
            name,
            version=version,
            revision=revision,
            parameters=dict(given),
            yes=yes,
            plan_id=plan_id,
        )
        return _follow_remote(client, started, as_json)
    repo = repository(ctx)
    found = None
    if name is not None:
        with store_session(repo) as session:
            found = get_definition(session, name, version=version, revision=revision)
    return run_playbook(repo, found, plan_id, given, yes, acting_user(as_user, repo), as_json)


def run_playbook(
    repo: Repository,
    found: PlaybookDefinition | None,
    plan_id: str | None,
    given: dict[str, CommandLineText],
    yes: bool,
    user: str,
    as_json: bool,
) -> int:
    """Run a playbook (or its plan) with the live table, and exit as its final state says."""
    from runbook.orchestrate.playbooks.fleet import PlaybookRequest, start_playbook

    with listening(live=_live(as_json), quiet=as_json) as listener, store_sessions(repo) as s:
        request = PlaybookRequest(
            definition=found,
            started_by=user,
            parameters=given,
            yes=yes,
            listener=listener,
            plan_id=plan_id,
        )
        run = start_playbook(s, repo, request)
    return _finish(repo, run, as_json)


@click.command("retry", epilog=_EXIT_HELP)
@click.option(
    "--failed",
    is_flag=True,
    required=True,
    help="Run the targets that FAILED in RUN (required: the only kind of retry).",
)
@click.option("-y", "--yes", is_flag=True, help="As for `playbook run`.")
@as_option
@json_option
@click.argument("run_id", metavar="RUN", type=PlaybookRunId())
@click.pass_context
def retry_command(
    ctx: click.Context, failed: bool, yes: bool, as_user: str | None, as_json: bool, run_id: str
) -> int:
    """Run the FAILED targets of playbook run RUN again, as a new run linked to RUN.

    The new run uses RUN's frozen definition and parameters (not the newest import) and
    the targets as RUN recorded them; batches, max_failures and locks apply to them as
    to any run. Targets that succeeded, were skipped or cancelled are not run.
    """
    from runbook.orchestrate.playbooks.fleet import retry_playbook

    client = remote(ctx, as_user)
    if client is not None:
        answer = client.post(f"/playbook-runs/{run_id}/retry", {"yes": yes})
        return _follow_remote(client, status_from(answer), as_json)
    repo = repository(ctx)
    with listening(live=_live(as_json), quiet=as_json) as listener, store_sessions(repo) as s:
        run = retry_playbook(
            s, repo, run_id, acting_user(as_user, repo), yes=yes, listener=listener
        )
    return _finish(repo, run, as_json)


@click.command("cancel")
@click.option(
    "--interrupt",
    is_flag=True,
    help="Also stop the targets running now: shell steps are killed (SIGTERM, then "
    "SIGKILL after 5 s), runbook steps interrupted; they end CANCELLED.",
)
@as_option
@json_option
@click.argument("run_id", metavar="RUN", type=PlaybookRunId())
@click.pass_context
def cancel_command(
    ctx: click.Context, interrupt: bool, as_user: str | None, as_json: bool, run_id: str
) -> None:
    """Ask playbook run RUN to stop: no new target starts.

    Without --interrupt the running targets finish their steps. Targets that had not
    started become CANCELLED and the run ends cancelled. The running process acts on the
    request within about a second. Exit 1 when RUN has already ended.
    """
    from runbook.orchestrate.playbooks.fleet import cancel_playbook

    client = remote(ctx, as_user)
    if client is not None:
        run = run_from(client.post(f"/playbook-runs/{run_id}/cancel", {"interrupt": interrupt}))
    else:
        repo = repository(ctx)
        with store_session(repo) as session:
            by = acting_user(as_user, repo)
            run = cancel_playbook(session, run_id, interrupt=interrupt, by=by)
    if as_json:
        print_json(summary(run))
        return
    how = "interrupting its running targets" if interrupt else "letting running targets finish"
    console.print(f"playbook run {run.id}: cancel requested ({how})")


@click.command("runs")
@listing_options(PlaybookRunState, PlaybookName())
@click.pass_context
def runs_command(
    ctx: click.Context, name: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """List playbook runs (of playbook NAME), newest first."""
    from runbook.orchestrate.playbooks.playbook_history import find_playbook_runs

    client = remote(ctx)
    if client is not None:
        rows = client.get("/playbook-runs", playbook=name, state=state, limit=limit)
        _LISTING.print([run_from(row) for row in rows], as_json=as_json)
        return
    repo = repository(ctx)
    with store_session(repo) as session:
        runs = find_playbook_runs(
            session, playbook=name, state=PlaybookRunState(state) if state else None, limit=limit
        )
    _LISTING.print(runs, as_json=as_json)


@click.command("status")
@click.option(
    "-w",
    "--watch",
    is_flag=True,
    help="Follow the run until it ends (live on a terminal), then exit as `playbook run` "
    "would: 0 succeeded, 1 failed, 3 cancelled or interrupted.",
)
@json_option
@click.argument("run_id", metavar="RUN", type=PlaybookRunId())
@click.pass_context
def status_command(ctx: click.Context, watch: bool, as_json: bool, run_id: str) -> int:
    """Show playbook run RUN: each target's batch, state, start order and message.

    ADDED and REMOVED targets (inventory drift) are flagged +added / -removed whatever
    state they reached. Runs whose process died show as interrupted.
    """
    client = remote(ctx)
    if client is not None:
        fetch: Callable[[str], Status] = functools.partial(remote_status, client)
    else:
        fetch = functools.partial(_status, repository(ctx))
    run, targets = fetch(run_id)
    if watch and not run.state.finished:
        run, targets = _watch(fetch, run, targets, live=_live(as_json), quiet=as_json)
    if as_json:
        print_json({**summary(run), "targets": [target_summary(t) for t in targets]})
    else:
        _print_status(run, targets)
    return exit_code_for_state(run.state) if watch else EXIT_OK


# ---------------------------------------------------------------------------------------------


def _row(run: PlaybookRun) -> tuple[str, ...]:
    return (
        run.id,
        safe_markup(run.playbook),
        str(run.revision),
        safe_markup(run.started_by),
        timestamp(run.started_at),
        run.state.value,
        run.retry_of or "",
    )


_LISTING: Final = RunListing(
    summary=summary,
    columns=("run", "playbook", "rev", "by", "started", "state", "retry of"),
    row=_row,
    empty="no playbook runs yet (start one with `runbook playbook run NAME`)",
)


def _live(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


def _status(repo: Repository, run_id: str) -> tuple[PlaybookRun, list[TargetRecord]]:
    from runbook.orchestrate.playbooks.playbook_history import playbook_status

    with store_session(repo) as session:
        return playbook_status(session, run_id)


def _watch(
    fetch: Callable[[str], Status],
    run: PlaybookRun,
    targets: list[TargetRecord],
    *,
    live: bool,
    quiet: bool,
) -> Status:
    """Poll the store (or the server) about every second until the run ends."""
    view = LiveView(run.id) if live else None
    seen = {t.name: (t.state, t.added, t.removed) for t in targets}
    with view.live if view is not None else contextlib.nullcontext():
        while not run.state.finished:
            if view is not None:
                view.show(targets)
            time.sleep(1.0)
            run, targets = fetch(run.id)
            for target in [] if quiet or view is not None else targets:
                key = (target.state, target.added, target.removed)
                if seen.get(target.name) != key:
                    seen[target.name] = key
                    err_console.print(f"{safe_markup(target.name)}: {state_text(target)}")
        if view is not None:
            view.show(targets)
    return run, targets


def _print_status(run: PlaybookRun, targets: list[TargetRecord]) -> None:
    retry = f"  retry of {run.retry_of}" if run.retry_of else ""
    console.print(
        f"[bold]{run.id}[/bold]  {safe_markup(run.playbook)} revision {run.revision} (version "
        f"{safe_markup(run.version)})  {run.state.value}{retry}"
    )
    ended = f", ended {timestamp(run.finish_ts)}" if run.finish_ts else ""
    console.print(f"started by {safe_markup(run.started_by)} at {timestamp(run.started_at)}{ended}")
    for key, value in run.parameters.items():
        console.print(f"  {safe_markup(key)} = {safe_markup(repr(value))}")
    if run.cancel_mode:
        console.print(f"cancel requested ({run.cancel_mode.value}) by {run.cancel_requested_by}")
    console.print(target_table(targets))
    console.print(counts_line(targets))
    if run.message:
        console.print(f"message: {safe_markup(run.message)}")


def _follow_remote(client: RemoteClient, started: Status, as_json: bool) -> int:
    """Watch a run the server executes to its end, then finish as a local run does."""
    fetch = functools.partial(remote_status, client)
    run, targets = _watch(fetch, *started, live=_live(as_json), quiet=as_json)
    return _print_finish(run, targets, as_json)


def _finish(repo: Repository, run: PlaybookRun, as_json: bool) -> int:
    _, targets = _status(repo, run.id)
    return _print_finish(run, targets, as_json)


def _print_finish(run: PlaybookRun, targets: list[TargetRecord], as_json: bool) -> int:
    if as_json:
        print_json({**summary(run), "targets": [target_summary(t) for t in targets]})
    else:
        console.print(f"playbook run {run.id}: {run.state.value} ({counts_line(targets)})")
        console.print(f"details: runbook playbook status {run.id}")
    return exit_code_for_state(run.state)
