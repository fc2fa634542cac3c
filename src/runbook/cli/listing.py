"""``runbook list``, ``show``, ``plans`` and ``show-plan``."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json, timestamp
from runbook.cli.plan import plan_summary
from runbook.cli.render import render_notebook
from runbook.cli.review import module_summary, print_modules, review_summary
from runbook.cli.types import PlanId, RunbookName
from runbook.errors import RunbookError
from runbook.model.injection import cell_tags
from runbook.model.notebook import Runbook, load_runbook
from runbook.model.repository import Repository
from runbook.orchestrate.plan_code import module_statuses
from runbook.orchestrate.planning import list_plan_readiness, plan_readiness
from runbook.store.plans import get_plan
from runbook.store.reviews import list_reviews


def runbook_summary(repo: Repository, runbook: Runbook) -> dict[str, Any]:
    """The JSON form of a runbook's metadata and parameters."""
    return {
        "name": repo.runbook_name(runbook.path),
        "path": repo.relative(runbook.path),
        "title": runbook.meta.title,
        "description": runbook.meta.description,
        "owner": runbook.meta.owner,
        "version": runbook.meta.version,
        "tags": list(runbook.meta.tags),
        "parameters": {name: spec.to_json() for name, spec in runbook.parameters.items()},
        "parameters_declared": runbook.meta.declared is not None,
    }


@click.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the runbooks under runbooks/."""
    repo = repository(ctx)
    rows: list[dict[str, Any]] = []
    for path in repo.runbook_paths():
        try:
            rows.append(runbook_summary(repo, load_runbook(path, repo.relative(path))))
        except RunbookError as error:
            rows.append(
                {"name": repo.runbook_name(path), "path": repo.relative(path), "error": str(error)}
            )
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
    path = repo.find_runbook(runbook)
    loaded = load_runbook(path, repo.relative(path))
    summary = runbook_summary(repo, loaded)
    if as_json:
        summary["cells"] = [
            {"index": i, "type": c.cell_type, "tags": cell_tags(c), "source": c.source}
            for i, c in enumerate(loaded.notebook.cells)
        ]
        print_json(summary)
        return
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
    repo = repository(ctx)
    runbook_path = repo.relative(repo.find_runbook(runbook)) if runbook else None
    with store_session(repo) as session:
        listed = list_plan_readiness(session, repo, runbook_path=runbook_path, limit=limit)
    rows = [{**plan_summary(plan), "status": readiness.status} for plan, readiness in listed]
    if as_json:
        print_json(rows)
        return
    table = Table("plan", "runbook", "planned by", "planned at", "status", box=None)
    for row, (plan, _) in zip(rows, listed, strict=True):
        table.add_row(
            row["id"],
            row["runbook"],
            escape(row["planned_by"]),
            timestamp(plan.planned_at),
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
        plan = get_plan(session, plan_id)
        readiness = plan_readiness(session, repo, plan)
        reviews = list_reviews(session, plan.id)
    modules = module_statuses(repo, plan)
    data = {
        **plan_summary(plan),
        "status": readiness.status,
        "ready": readiness.ready,
        "reason": readiness.reason,
        "modules": [module_summary(m) for m in modules],
        "reviews": [review_summary(r) for r in reviews],
    }
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
