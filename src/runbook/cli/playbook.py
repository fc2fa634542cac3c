"""``runbook playbook``: import playbooks, run them across targets, watch, retry, cancel.

The definition commands (validate, import, list, versions, show) are here; the commands
about runs are in :mod:`runbook.cli.playbook_runs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click
import yaml
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json, timestamp
from runbook.cli.playbook_plan import plan_command
from runbook.cli.playbook_remote import definition_from
from runbook.cli.playbook_runs import register, revision_option, version_option
from runbook.cli.remote import remote
from runbook.cli.types import PlaybookName
from runbook.errors import UsageError
from runbook.model.files import read_failure, read_text
from runbook.model.playbooks.playbook_run import PlaybookDefinition
from runbook.orchestrate.playbooks.playbook_summaries import definition_summary
from runbook.outcomes import EXIT_FAILURE, EXIT_OK

_SEMANTICS: Final = """\b
Batches: strategy.batch_size is a count (5), a percentage of the targets known at
start ("10%", rounded down, at least 1) or a list of those ([1, "10%", "100%"]: a
canary, then 10%, then the rest); the last entry repeats until every target is in a
batch. Batches run one after the other; within one, at most `concurrency` targets
run at once, in inventory order.
\b
max_failures: a count, or a percentage of the targets at start (rounded down). The
run stops once the FAILED targets are MORE than it: 0 stops at the first failure, 2
at the third. Stopping: no new target starts, running ones finish, every target
still waiting becomes SKIPPED and the run fails.
\b
on_failure (per target, which ends FAILED either way): stop skips its later steps;
continue runs them; rollback skips them and runs the rollbacks of the failed step
and of the steps done before it, newest first (shell `rollback` commands; a failing
runbook step runs its rollback cells; a runbook step that had completed is not
rolled back automatically, and its record says so).
\b
Drift: before every batch after the first, and once after the last, the inventory
is read again. New names are recorded ADDED; with added_targets: later they run in
further batches after the planned ones (still flagged added), with ignore they stay
ADDED. Names gone before they started become REMOVED; those started or done keep
their state, flagged removed.
"""


_TITLE: Final = (
    "Playbooks: steps (runbooks or shell commands) run across a fleet of targets, in "
    "batches, with a record per target. Import a playbooks/*.yml file, then run it."
)


@click.group("playbook", help=f"{_TITLE}\n\n{_SEMANTICS}")
def playbook_group() -> None:
    """Playbooks: steps run across a fleet of targets, in batches."""


@playbook_group.command("validate")
@json_option
@click.argument("file", metavar="FILE")
def validate_command(as_json: bool, file: str) -> int:
    """Check playbook FILE and list every error with its path in the YAML.

    Exit 1 when FILE has errors, 2 when it cannot be read.
    """
    from runbook.model.playbooks.playbook import validate_playbook

    try:
        text = read_text(Path(file))
    except (OSError, ValueError) as error:
        raise UsageError(f"{file}: cannot read the playbook: {read_failure(error)}") from None
    errors = validate_playbook(text, file)
    if as_json:
        listed = [{"where": e.where, "reason": e.reason} for e in errors]
        print_json({"ok": not errors, "errors": listed})
    for problem in [] if as_json else errors:
        whole = problem.where == file or problem.where.startswith(f"{file}:")
        click.echo(str(problem) if whole else f"{file}: {problem}")
    if not errors and not as_json:
        click.echo(f"{file}: valid")
    return EXIT_FAILURE if errors else EXIT_OK


@playbook_group.command("import")
@as_option
@json_option
@click.argument("file", metavar="FILE")
@click.pass_context
def import_command(ctx: click.Context, as_user: str | None, as_json: bool, file: str) -> None:
    """Validate playbook FILE and store it as the next revision of its name.

    The revision records the version FILE declares, the repository's git commit (none
    outside git), whether FILE differs from that commit (dirty), who imported it and
    when. Importing content identical to the newest revision stores nothing and says
    "unchanged". Runs always use the revision they started with. Exit 1 when FILE is
    invalid (the first error, with its place in the YAML), 2 when it cannot be read.
    """
    from runbook.orchestrate.playbooks.playbook_import import import_playbook

    repo = repository(ctx)
    with store_session(repo) as session:
        result = import_playbook(
            session, repo, file, imported_by=acting_user(as_user, repo), base=Path.cwd()
        )
    found = result.definition
    if as_json:
        print_json({**definition_summary(found), "created": result.created})
        return
    verdict = "imported as" if result.created else "unchanged: identical to"
    console.print(
        f"{escape(found.name)}: {verdict} revision {found.revision} (version "
        f"{escape(found.version)}, commit {_commit(found)})"
    )


@playbook_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List imported playbooks with their newest revision."""
    from runbook.store.playbooks.playbook_definitions import list_definitions

    client = remote(ctx)
    if client is not None:
        found = [definition_from(shown) for shown in client.get("/playbooks")]
    else:
        repo = repository(ctx)
        with store_session(repo) as session:
            found = list_definitions(session)
    if as_json:
        print_json([definition_summary(d) for d in found])
        return
    if not found:
        console.print("no playbooks imported yet: runbook playbook import playbooks/FILE.yml")
        return
    table = Table("playbook", "revision", "version", "commit", "imported", "by", "source", box=None)
    for d in found:
        table.add_row(
            escape(d.name),
            str(d.revision),
            escape(d.version),
            _commit(d),
            timestamp(d.imported_at),
            escape(d.imported_by),
            escape(d.source),
        )
    console.print(table)


@playbook_group.command("versions")
@json_option
@click.argument("name", metavar="NAME", type=PlaybookName())
@click.pass_context
def versions_command(ctx: click.Context, as_json: bool, name: str) -> None:
    """List every imported revision of playbook NAME, newest first."""
    from runbook.errors import UnknownPlaybookError
    from runbook.store.playbooks.playbook_definitions import list_revisions

    repo = repository(ctx)
    with store_session(repo) as session:
        found = list_revisions(session, name)
    if not found:
        raise UnknownPlaybookError(name)
    if as_json:
        print_json([definition_summary(d) for d in found])
        return
    table = Table("revision", "version", "sha256", "commit", "imported", "by", box=None)
    for d in found:
        table.add_row(
            str(d.revision),
            escape(d.version),
            d.sha256[:12],
            _commit(d),
            timestamp(d.imported_at),
            escape(d.imported_by),
        )
    console.print(table)


@playbook_group.command("show")
@version_option
@revision_option
@json_option
@click.argument("name", metavar="NAME", type=PlaybookName())
@click.pass_context
def show_command(
    ctx: click.Context, version: str | None, revision: int | None, as_json: bool, name: str
) -> None:
    """Show playbook NAME as stored (the newest revision unless --version or --revision)."""
    from runbook.store.playbooks.playbook_definitions import get_definition

    repo = repository(ctx)
    with store_session(repo) as session:
        found = get_definition(session, name, version=version, revision=revision)
    if as_json:
        print_json({**definition_summary(found), "definition": found.definition})
        return
    console.print(
        f"[bold]{escape(found.name)}[/bold] revision {found.revision}, version "
        f"{escape(found.version)}\nsource: {escape(found.source)}  commit: {_commit(found)}  "
        f"imported by {escape(found.imported_by)} at {timestamp(found.imported_at)}"
    )
    console.print(escape(yaml.safe_dump(found.definition, sort_keys=False).rstrip()))


def _commit(found: PlaybookDefinition) -> str:
    shown = found.git_commit[:12] if found.git_commit else "none"
    return f"{shown}{' (dirty)' if found.dirty else ''}"


register(playbook_group)
playbook_group.add_command(plan_command)
