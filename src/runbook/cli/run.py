"""``runbook run``."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from runbook.cli.context import acting_user, as_option, json_option, repository, store_sessions
from runbook.cli.output import console, err_console, print_json
from runbook.cli.remote import remote
from runbook.cli.types import PlanId
from runbook.errors import PlaybookPlanError
from runbook.model.run import RunMode
from runbook.outcomes import exit_code_for_state


@click.command("run")
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Run without a person: confirm cells and manual steps are answered yes "
    "(recorded as confirmed by you).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="sh(..., mutative=True) prints instead of running; confirm cells are shown with "
    "the plan's values and not executed (executed, the helpers announcing, when the runbook "
    "declares metadata.runbook.dry_run = 'helpers').",
)
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask at every gate (default when stdin and stdout are a terminal and --yes is not given).",
)
@click.option(
    "--from",
    "start_cell",
    metavar="CELL",
    help="Start at CELL: its number as the run shows it (from 0), or its id; e.g. to "
    "resume a failed or interrupted run.",
)
@click.option(
    "--skip-done",
    is_flag=True,
    help="With --from: skip the earlier cells instead of re-executing the "
    "non-mutative ones to rebuild the kernel's state.",
)
@click.option(
    "--timeout",
    "cell_timeout",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Fail a cell that runs longer than this.",
)
@as_option
@json_option
@click.argument("plan_id", metavar="PLAN", type=PlanId())
@click.pass_context
def run_command(
    ctx: click.Context,
    yes: bool,
    dry_run: bool,
    interactive: bool | None,
    start_cell: str | None,
    skip_done: bool,
    cell_timeout: float | None,
    as_user: str | None,
    as_json: bool,
    plan_id: str,
) -> int:
    """Execute PLAN in a Jupyter kernel, cell by cell, with a gate before every mutation.

    \b
    Interactive (default on a terminal): markdown rendered, code shown, outputs live;
    before a confirm cell: [y]es / [s]kip / [a]bort / [r]ollback; a manual step waits
    for "done"; a failing cell offers retry / skip / abort / rollback; Ctrl-C
    interrupts the running cell and offers the same.
    Non-interactive (--yes, or no terminal): runs to the end; without --yes a confirm
    cell stops the run.

    \b
    Exit codes: 0 succeeded; 1 failed; 2 usage (e.g. no such plan); 3 aborted, rolled
    back or interrupted; 4 refused by policy (a runbook that is not a plan, review missing
    or voided, plan changed, its working directory gone, already running).
    """
    if skip_done and start_cell is None:
        raise click.UsageError("--skip-done only makes sense with --from CELL")
    client = remote(ctx, as_user)
    if client is not None:
        if start_cell is not None:
            raise click.UsageError("--from is not offered by a server's runs yet")
        from runbook.cli.run_remote import run_remote

        return run_remote(
            client,
            plan_id,
            yes=yes,
            dry_run=dry_run,
            interactive=interactive,
            as_json=as_json,
            timeout=cell_timeout,
        )
    repo = repository(ctx)
    from runbook.orchestrate.run_launch import launch_early

    # Booted before the rest is imported: the imports below, the policy checks and the
    # store's opening take about as long as the kernel's boot, and overlap it.
    early = launch_early(repo, plan_id, dry_run=dry_run)
    from runbook.cli.console import ConsoleObserver, TerminalOperator
    from runbook.engine.hooks import Operator
    from runbook.engine.operators import AutomaticOperator
    from runbook.orchestrate.running import RunRequest, start_run

    executor = acting_user(as_user, repo)
    if interactive is None:
        interactive = not yes and not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    shown = err_console if as_json else console
    screen = ConsoleObserver(shown, full=interactive)
    operator: Operator = (
        TerminalOperator(shown, executor, screen)
        if interactive
        else AutomaticOperator(executor, yes=yes)
    )
    mode = (
        RunMode.DRY_RUN if dry_run else (RunMode.INTERACTIVE if interactive else RunMode.AUTOMATIC)
    )
    request = RunRequest(
        plan_id=plan_id,
        executor=executor,
        operator=operator,
        mode=mode,
        observers=[screen],
        start_cell=start_cell,
        rebuild=not skip_done,
        cell_timeout=cell_timeout,
        early=early,
    )
    try:
        with store_sessions(repo) as sessions:
            result = start_run(sessions, repo, request)
    except PlaybookPlanError:  # `run` runs any plan: a playbook's runs across its fleet
        from runbook.cli.playbook_runs import run_playbook

        if dry_run or start_cell is not None:
            message = "--dry-run and --from do not apply to a playbook's plan"
            raise click.UsageError(message) from None
        return run_playbook(repo, None, plan_id, {}, yes, executor, as_json)
    run, outcome = result.run, result.outcome
    for warning in result.warnings:
        err_console.print(f"[yellow]warning: {escape(warning)}[/yellow]")
    if as_json:
        summary: dict[str, object] = {
            "run": run.id,
            "plan": run.plan_id,
            "state": outcome.state.value,
            "message": outcome.message,
            "notebook": run.notebook_path,
            "reports": result.reports,
            "warnings": result.warnings,
        }
        if dry_run:
            from runbook.orchestrate.run_history import announced_by_run

            summary["announced"] = [
                {"cell": a.cell, "command": a.command} for a in announced_by_run(repo, run)
            ]
        print_json(summary)
    else:
        shown.print(f"notebook: {escape(run.notebook_path)}")
        for report in result.reports:
            shown.print(f"report: {escape(report)}")
        shown.print(f"log: runbook log {run.id}")
    return exit_code_for_state(outcome.state)
