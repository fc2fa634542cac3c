"""``runbook create`` and ``runbook templates``."""

from __future__ import annotations

import click
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository
from runbook.cli.output import console, print_json
from runbook.cli.types import TemplateName
from runbook.errors import AlreadyExistsError, UsageError
from runbook.model.notebook import write_notebook
from runbook.model.templates import find_template, list_templates, render_template, slugify


@click.command("create")
@click.option(
    "-t",
    "--template",
    "template_name",
    default="default",
    show_default=True,
    type=TemplateName(),
    help="Template to start from (see `runbook templates`).",
)
@as_option
@json_option
@click.argument("title")
@click.pass_context
def create_command(
    ctx: click.Context, template_name: str, as_user: str | None, as_json: bool, title: str
) -> None:
    """Create runbooks/<slug>.ipynb from a template, titled TITLE.

    The new runbook's metadata (title, owner) is filled in; an existing file is never
    overwritten.
    """
    repo = repository(ctx)
    try:
        slug = slugify(title)
    except ValueError as error:
        raise UsageError(str(error)) from None
    target = repo.runbooks_dir / f"{slug}.ipynb"
    if target.exists():
        raise AlreadyExistsError(repo.relative(target))
    template = find_template(template_name, repo.templates_dir)
    notebook = render_template(template, title=title, owner=acting_user(as_user, repo))
    write_notebook(notebook, target)
    relative = repo.relative(target)
    if as_json:
        print_json({"path": relative, "name": slug, "template": template.name, "title": title})
        return
    console.print(f"Created {relative} from template {template.name!r}")
    console.print(
        f"Next: edit it (jupyter lab {relative}), check it (runbook check {slug}),"
        f" then plan it (runbook plan {slug} -p NAME VALUE)"
    )


@click.command("templates")
@json_option
@click.pass_context
def templates_command(ctx: click.Context, as_json: bool) -> None:
    """List the templates `runbook create` can start from: built-in and templates/."""
    repo = repository(ctx)
    templates = list_templates(repo.templates_dir)
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "source": t.source,
                    "description": t.description,
                    "path": str(t.path),
                }
                for t in templates
            ]
        )
        return
    table = Table("name", "source", "description", box=None)
    for template in templates:
        table.add_row(template.name, template.source, template.description)
    console.print(table)
