"""``runbook workflow``: validate, list, run and resume workflows (``workflows/*.yml``)."""

from __future__ import annotations

from pathlib import Path

import click

from runbook.cli.context import json_option, repository
from runbook.cli.errors import one_line
from runbook.cli.output import print_json
from runbook.cli.remote import remote
from runbook.cli.workflow_runs import register
from runbook.errors import UsageError
from runbook.model.files import read_failure, read_text
from runbook.model.workflows.workflow import load_workflows, validate_workflows
from runbook.orchestrate.workflows.workflow_summaries import workflow_row
from runbook.outcomes import EXIT_FAILURE, EXIT_OK


@click.group("workflow")
def workflow_group() -> None:
    """Workflows: DAGs of notebook tasks defined in workflows/*.yml.

    \b
    A task's parameters name a workflow parameter, another task (its value is that
    executed notebook's path, and the reference orders execution), reference_date,
    date_ranges, or flowapi_url. Tasks run unattended as Runbook runs: a confirm cell or
    a required review fails the task. Settings: [workflows] in runbook.toml (inputs,
    outputs, max_parallel, flowapi_url), or RUNBOOK_INPUTS_DIR / AUTOFLOW_INPUTS_DIR,
    RUNBOOK_OUTPUTS_DIR / AUTOFLOW_OUTPUTS_DIR, RUNBOOK_MAX_PARALLEL, FLOWAPI_URL.
    """


@workflow_group.command("validate")
@json_option
@click.argument("file", metavar="FILE")
def validate_command(as_json: bool, file: str) -> int:
    """Check FILE and report every error with its path in the YAML.

    As AutoFlow does, the notebooks and templates it names must exist, relative to FILE's
    folder (and inside the repository, when FILE is in one). AutoFlow's earlier list form
    (kind: date_triggered_notebooks) is read too. Exit 1 when FILE has errors (all are
    listed, one per line), 2 when it cannot be read.
    """
    try:
        text = read_text(Path(file))
    except (OSError, ValueError) as error:
        raise UsageError(f"{file}: cannot read the workflows file: {read_failure(error)}") from None
    from runbook.orchestrate.workflows.workflow_files import file_check

    folder = Path(file).resolve().parent
    files = file_check(folder, _repository_root(folder))
    errors = validate_workflows(text, file, files)
    count = 0 if errors else len(load_workflows(text, file, files).workflows)
    if as_json:
        print_json(
            {
                "ok": not errors,
                "workflows": count,
                "errors": [{"where": e.where, "reason": e.reason} for e in errors],
            }
        )
    else:
        for problem in errors:
            whole = problem.where == file or problem.where.startswith(f"{file}:")
            click.echo(str(problem) if whole else f"{file}: {problem}")
        if not errors:
            click.echo(f"{file}: {count} workflow{'s' if count != 1 else ''}, valid")
    return EXIT_FAILURE if errors else EXIT_OK


@workflow_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> int:
    """List the workflows of the inputs folder (workflows/*.yml, and a top-level workflows.yml).

    An invalid file is named on stderr with its error (exit 1); the others are listed.
    """
    from runbook.orchestrate.workflows.workflow_files import load_defined, settings_for

    client = remote(ctx)
    if client is not None:
        listed = client.get("/workflows")
        rows, invalid = list(listed["workflows"]), list(listed["invalid"])
    else:
        repo = repository(ctx)
        loaded = load_defined(repo, settings_for(repo))
        rows = [workflow_row(w.spec, w.source) for w in loaded.defined]
        invalid = [{"file": bad.source, "error": str(bad.error)} for bad in loaded.invalid]
    code = EXIT_FAILURE if invalid else EXIT_OK
    if as_json:
        print_json({"workflows": rows, "invalid": invalid})
        return code
    for bad in invalid:
        click.echo(f"runbook: error: {one_line(bad['error'])}", err=True)
    if not rows:
        click.echo("no workflows (define them in workflows/*.yml)")
    for row in rows:
        layers = " -> ".join(",".join(layer) for layer in row["order"])
        triggers = "; ".join(row["triggers"]) or "none"
        click.echo(f"{row['name']}  [{row['file']}]  tasks: {layers}  triggers: {triggers}")
    return code


register(workflow_group)


def _repository_root(folder: Path) -> Path | None:
    """The repository ``folder`` is in, if any: the files FILE names must stay inside it."""
    from runbook.errors import RunbookError
    from runbook.model.repository import find_repository

    try:
        return find_repository(folder).root
    except (RunbookError, OSError):
        return None
