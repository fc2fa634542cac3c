"""``runbook plan``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.errors import one_line
from runbook.cli.output import console, print_json
from runbook.cli.remote import remote
from runbook.cli.types import RunbookName
from runbook.cli.values import ParameterCommand, parameter_option
from runbook.errors import ParameterError
from runbook.model.forcing import forced_line, plan_forced
from runbook.model.option_values import read_option_values
from runbook.model.parameters import ParameterSpec, coerce, read_parameters_file
from runbook.model.plan import Plan
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.summaries import plan_summary


@click.command("plan", cls=ParameterCommand)
@parameter_option("a parameter (wins over -f)")
@click.option(
    "-f",
    "--parameters-file",
    "parameters_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON mapping of parameter names to values.",
)
@click.option(
    "--cwd",
    "cwd",
    metavar="DIR",
    help="The kernel's working directory, inside the repository "
    "(default: the runbook's own folder, as in Jupyter).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Plan even though `runbook check` finds errors; they are recorded in the plan, "
    "shown to the reviewer, and the plan then always needs a review.",
)
@as_option
@json_option
@click.argument("runbook", type=RunbookName())
@click.pass_context
def plan_command(
    ctx: click.Context,
    parameters: tuple[tuple[str, str], ...],
    parameters_file: Path | None,
    cwd: str | None,
    force: bool,
    as_user: str | None,
    as_json: bool,
    runbook: str,
) -> None:
    """Bind RUNBOOK to parameter values and freeze it as a plan.

    Values are checked against the declared types (str, int, float, bool, date, datetime,
    list, choice) and written as a papermill `injected-parameters` cell right after the
    `parameters` cell; every other cell is kept unchanged. Missing required values are asked
    for on a terminal. Parameters inferred from the cell take what papermill takes: a value
    that is not of the guessed type is passed as text, with a warning. Secret parameters
    take a reference (env:VAR, file:PATH, secret:NAME), never a value. The plan is recorded
    with the sha256 of its content, which includes the kernel's working directory (--cwd;
    the runbook's folder by default).

    A runbook with `runbook check` errors is refused (exit 1, one line naming the cell
    and the rule) unless --force is given.
    """
    given: dict[str, object] = read_parameters_file(parameters_file) if parameters_file else {}
    given.update(read_option_values(parameters))
    client = remote(ctx, as_user)
    if client is not None:
        body = {"runbook": runbook, "parameters": given, "cwd": cwd, "force": force}
        summary = dict(client.post("/plans", body))
        for line in summary.pop("warnings", []):
            _warn(str(line))
    else:
        summary = _plan_here(ctx, runbook, given, cwd, force, as_user, as_json)
    if as_json:
        print_json(summary)
        return
    print_planned(summary)


def _plan_here(
    ctx: click.Context,
    runbook: str,
    given: dict[str, object],
    cwd: str | None,
    force: bool,
    as_user: str | None,
    as_json: bool,
) -> dict[str, Any]:
    repo = repository(ctx)
    path = repo.find_runbook(runbook, base=Path.cwd())
    prompt = _ask if sys.stdin.isatty() and not as_json else None
    with store_session(repo) as session:
        plan = plan_runbook(
            session,
            repo,
            path,
            given,
            planner=acting_user(as_user, repo),
            prompt=prompt,
            warn=_warn,
            cwd=cwd,
            cwd_base=Path.cwd(),
            force=force,
        )
    return plan_summary(plan)


def print_planned(summary: dict[str, Any]) -> None:
    """What ``runbook plan`` prints of a new plan (its ``--json`` form), here or remote."""
    plan_id = summary["id"]
    console.print(f"Planned [bold]{escape(plan_id)}[/bold] → {summary['notebook']}")
    table = Table("parameter", "value", box=None)
    for name, value in summary["parameters"].items():
        table.add_row(name, escape(repr(value)))
    console.print(table)
    console.print(f"working directory: {escape(summary['cwd'])}")
    print_forced_entries(summary["forced"])
    if summary["review_required"]:
        console.print(f"Review required: a second person runs `runbook review {plan_id} --approve`")
    else:
        console.print(f"No review required by runbook.toml. Check it: runbook verify {plan_id}")


def print_forced(plan: Plan) -> None:
    """The ``check`` errors the planner forced past (``plan --force``), if any, in red."""
    print_forced_entries(plan_forced(plan))


def print_forced_entries(forced: list[dict[str, Any]]) -> None:
    """The forced ``check`` errors of a plan, as :func:`print_forced` prints them."""
    if not forced:
        return
    console.print(
        f"[bold red]FORCED: planned with --force past {len(forced)} check error(s); "
        "this plan needs a review whatever runbook.toml says:[/bold red]"
    )
    for entry in forced:
        console.print(f"[red]  {escape(forced_line(entry))}[/red]")


def _warn(line: str) -> None:
    click.echo(f"runbook: warning: {one_line(line)}", err=True)


def _ask(spec: ParameterSpec) -> object:
    label = f"{spec.name} ({spec.type})" + (f" — {spec.help}" if spec.help else "")
    if spec.choices:
        label += f" [{'/'.join(str(c) for c in spec.choices)}]"
    while True:
        answer = click.prompt(label, err=True, default=spec.default)
        try:
            coerce(spec, answer)
        except ParameterError as error:
            click.echo(f"  {error.reason}", err=True)
            continue
        return answer
