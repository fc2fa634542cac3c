"""``runbook gc``: remove finished runs past their time to live."""

from __future__ import annotations

import click
from rich.markup import escape

from runbook.cli.context import acting_user, as_option, json_option, repository, store_sessions
from runbook.cli.output import console, print_json

_KIND_WORDS = {"runs": "run", "workflow_runs": "workflow run", "playbook_runs": "playbook run"}


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@as_option
@json_option
@click.pass_context
def gc_command(ctx: click.Context, dry_run: bool, as_user: str | None, as_json: bool) -> None:
    """Delete finished runs, workflow runs and playbook runs older than their TTL.

    \b
    TTLs are set in runbook.toml, e.g.
      [retention]
      runs = "90d"
      workflow_runs = "90d"
      playbook_runs = "30d"
    (units s, m, h, d, w); a kind without a TTL is kept forever. Their folders under runs/
    go too; the audit log keeps an event listing what was removed. Nothing running is
    touched. A record whose id is not in Runbook's format is skipped and named, never
    followed. What a killed gc or plan left behind is finished. `runbook scheduler` runs
    this once a day.
    """
    from runbook.orchestrate.retention import collect_garbage
    from runbook.orchestrate.workflows.workflow_files import settings_for

    repo = repository(ctx)
    with store_sessions(repo) as sessions:
        report = collect_garbage(
            sessions, repo, settings_for(repo), actor=acting_user(as_user, repo), dry_run=dry_run
        )
    if as_json:
        print_json(report.to_json(dry_run=dry_run))
        return
    verb = "would remove" if dry_run else "removed"
    for skipped in report.skipped:
        # The reason names the id (quoted) and what is wrong with it; its record is kept.
        console.print(f"skipped {_KIND_WORDS[skipped.kind]} {escape(skipped.reason)}")
    for path in report.plan_files:
        console.print(
            f"{'would clean' if dry_run else 'cleaned'} {escape(path)} (left by a killed plan)"
        )
    if not report.total:
        console.print("nothing to remove (see [retention] in runbook.toml)")
        for warning in report.warnings:
            console.print(f"[yellow]warning: {escape(warning)}[/yellow]")
        return
    for kind, ids in report.removed.items():
        word = _KIND_WORDS[kind]
        console.print(f"{verb} {len(ids)} {word}{'s' if len(ids) != 1 else ''}: {', '.join(ids)}")
    freed = "would free" if dry_run else "freed"
    console.print(f"{len(report.folders)} folders, {report.bytes_freed / 1e6:.1f} MB {freed}")
    for warning in report.warnings:
        console.print(f"[yellow]warning: {escape(warning)}[/yellow]")
