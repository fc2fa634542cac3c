"""``runbook list``, ``show``, ``plans`` and ``show-plan``."""

from __future__ import annotations

from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json, timestamp
from runbook.cli.plan import print_forced
from runbook.cli.remote import remote
from runbook.cli.render import render_notebook
from runbook.cli.review import print_modules
from runbook.cli.types import PlanId, RunbookName
from runbook.model.notebook import load_runbook
from runbook.orchestrate.reading import list_plans, list_runbooks, plan_details, runbook_details


@click.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the runbooks under runbooks/."""
    rows = list_runbooks(repository(ctx))
    if as_json:
        print_json(rows)
        return
    table = Table("name", "title", "version", "owner", "tags", "parameters", box=None)
    for row in rows:
        if "error" in row:
            table.add_row(row["name"], f"[red]{escape(row['error'])}[/red]", "", "", "", "")
            continue
        table.add_row(
            row["name"],
            escape(row["title"]),
            escape(row["version"]),
            escape(row["owner"]),
            escape(", ".join(row["tags"])),
            escape(", ".join(row["parameters"])),
        )
    console.print(table if rows else "no runbooks yet: runbook create TITLE")


@click.command("show")
@json_option
@click.argument("runbook", type=RunbookName())
@click.pass_context
def show_command(ctx: click.Context, as_json: bool, runbook: str) -> None:
    """Show a runbook: metadata, parameters and every cell with its tags."""
    repo = repository(ctx)
    summary = runbook_details(repo, runbook)
    if as_json:
        print_json(summary)
        return
    path = repo.find_runbook(runbook)
    loaded = load_runbook(path, repo.relative(path))
    console.rule(escape(loaded.meta.title))
    for key in ("path", "description", "owner", "version"):
        console.print(f"{key}: {escape(str(summary[key]))}")
    console.print(f"tags: {escape(', '.join(loaded.meta.tags)) or '-'}")
    table = Table("parameter", "type", "default", "required", "secret", "help", box=None)
    for spec in loaded.parameters.values():
        table.add_row(
            spec.name,
            spec.type,
            escape(repr(spec.default)),
            str(spec.required),
            str(spec.secret),
            escape(spec.help),
        )
    console.print(table)
    render_notebook(console, loaded.notebook)


@click.command("plans")
@click.option("--runbook", "runbook", type=RunbookName(), help="Only plans of this runbook.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_context
def plans_command(ctx: click.Context, runbook: str | None, limit: int, as_json: bool) -> None:
    """List plans, newest first, with their review status."""
    client = remote(ctx)
    if client is not None:
        rows = list(client.get("/plans", runbook=runbook, limit=limit))
    else:
        repo = repository(ctx)
        with store_session(repo) as session:
            rows = list_plans(session, repo, runbook=runbook, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("plan", "runbook", "planned by", "planned at", "status", box=None)
    for row in rows:
        table.add_row(
            row["id"],
            row["runbook"],
            escape(row["planned_by"]),
            timestamp(datetime.fromisoformat(row["planned_at"])),
            row["status"],
        )
    console.print(table if rows else "no plans yet: runbook plan RUNBOOK -p NAME VALUE")


@click.command("show-plan")
@json_option
@click.argument("plan_id", metavar="PLAN", type=PlanId())
@click.pass_context
def show_plan_command(ctx: click.Context, as_json: bool, plan_id: str) -> None:
    """Show a plan: its values, hash, status and reviews."""
    repo = repository(ctx)
    with store_session(repo) as session:
        details = plan_details(session, repo, plan_id)
    plan, readiness, modules, reviews = (
        details.plan,
        details.readiness,
        details.modules,
        details.reviews,
    )
    data = details.to_json()
    if as_json:
        print_json(data)
        return
    console.rule(f"Plan {plan.id}")
    for key in (
        "runbook",
        "title",
        "notebook",
        "sha256",
        "cwd",
        "planned_by",
        "planned_at",
        "state",
        "review_required",
        "standing_approval",
        "status",
    ):
        console.print(f"{key}: {escape(str(data[key]))}")
    if readiness.reason:
        console.print(f"[yellow]not ready: {escape(readiness.reason)}[/yellow]")
    print_forced(plan)
    table = Table("parameter", "value", box=None)
    for name, value in plan.parameters.items():
        table.add_row(name, escape(repr(value)))
    console.print(table)
    print_modules(modules)
    for review in reviews:
        bound = "current" if review.plan_sha256 == plan.sha256 else "void"
        console.print(
            f"review: {review.verdict.value} by {escape(review.reviewer)} at "
            f"{timestamp(review.reviewed_at)} ({bound})"
            + (f": {escape(review.comment)}" if review.comment else "")
        )
