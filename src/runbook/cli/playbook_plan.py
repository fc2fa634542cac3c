"""``runbook playbook plan``: freeze a playbook revision with its values into a plan to review."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.cli.playbook_runs import revision_option, version_option
from runbook.cli.remote import remote
from runbook.cli.types import PlaybookName
from runbook.cli.values import ParameterCommand, parameter_option
from runbook.model.option_values import read_option_values
from runbook.orchestrate.summaries import plan_summary

_EXIT_HELP: Final = (
    "Exit codes: 0 planned; 1 a step runbook cannot be read; 2 usage (unknown playbook, "
    "version or parameter)."
)


@click.command("plan", epilog=_EXIT_HELP, cls=ParameterCommand)
@version_option
@revision_option
@parameter_option("a playbook parameter")
@as_option
@json_option
@click.argument("name", metavar="NAME", type=PlaybookName())
@click.pass_context
def plan_command(
    ctx: click.Context,
    version: str | None,
    revision: int | None,
    parameters: tuple[tuple[str, str], ...],
    as_user: str | None,
    as_json: bool,
    name: str,
) -> None:
    """Freeze imported playbook NAME, its parameter values and its inventory source into
    a plan, for review as a whole.

    The plan is reviewed, signed, verified and kept like a runbook's plan (`runbook review
    PLAN`, `runbook verify PLAN`), under the same [review] rules: the playbook's `tags` and
    those of its step runbooks decide whether it needs approval and from whom. The runbooks
    its steps run are bound by sha256: a change voids the approval. Run it with `runbook
    playbook run --plan PLAN` (or `runbook run PLAN`); its approval then covers the runbook
    steps, and the first run that succeeds spends it. A playbook that needs review (its
    tags, or review.require = "all") runs only this way.
    """
    from runbook.orchestrate.playbooks.playbook_plans import plan_playbook
    from runbook.store.playbooks.playbook_definitions import get_definition

    given = read_option_values(parameters)
    client = remote(ctx, as_user)
    if client is not None:
        body = {"version": version, "revision": revision, "parameters": dict(given)}
        shown = client.post(f"/playbooks/{quote(name, safe='')}/plans", body)
    else:
        repo = repository(ctx)
        with store_session(repo) as session:
            found = get_definition(session, name, version=version, revision=revision)
            plan = plan_playbook(session, repo, found, given, planner=acting_user(as_user, repo))
        shown = {**plan_summary(plan), "playbook": found.name, "revision": found.revision}
    if as_json:
        print_json(shown)
        return
    console.print(
        f"Planned [bold]{escape(shown['id'])}[/bold]: playbook {escape(shown['playbook'])} "
        f"revision {shown['revision']} (sha256 {shown['sha256'][:12]}…)"
    )
    table = Table("parameter", "value", box=None)
    for key, value in shown["parameters"].items():
        table.add_row(key, escape(repr(value)))
    console.print(table)
    plan_id = shown["id"]
    if shown["review_required"]:
        console.print(f"Review required: a second person runs `runbook review {plan_id} --approve`")
    else:
        console.print(f"No review required by runbook.toml. Run it: runbook run {plan_id}")
