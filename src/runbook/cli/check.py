"""``runbook check``."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from runbook.cli.context import json_option, repository
from runbook.cli.output import console, print_json
from runbook.cli.types import RunbookName
from runbook.model.cells import cell_label
from runbook.model.lint import Severity, check_runbook
from runbook.model.notebook import load_runbook
from runbook.outcomes import EXIT_FAILURE, EXIT_OK


@click.command("check")
@json_option
@click.argument("runbooks", nargs=-1, type=RunbookName())
@click.pass_context
def check_command(ctx: click.Context, as_json: bool, runbooks: tuple[str, ...]) -> int:
    """Lint RUNBOOKS (default: every runbook) without running them.

    Errors (exit 1): a confirm cell before the first precheck, a mutative-looking step
    without `confirm` (shell patterns, and direct calls read with ast: subprocess, os.system,
    os.remove, shutil.rmtree, Path.unlink…), parameters set in the cell but not declared, a
    confirm cell acting around the helpers when metadata.runbook.dry_run is "helpers".
    `runbook plan` refuses a runbook with errors unless --force. Warnings: missing
    precheck/verify/rollback cells, inferred parameters, misspelt tags, cells that are not
    Python.
    """
    repo = repository(ctx)
    paths = [repo.find_runbook(name) for name in runbooks] if runbooks else repo.runbook_paths()
    report: list[dict[str, Any]] = []
    errors = 0
    for path in paths:
        where = repo.relative(path)
        findings = check_runbook(load_runbook(path, where))
        errors += sum(f.severity is Severity.ERROR for f in findings)
        report.append(
            {
                "runbook": where,
                "findings": [
                    {
                        "severity": f.severity.value,
                        "code": f.code,
                        "cell": f.cell,
                        "message": f.message,
                    }
                    for f in findings
                ],
            }
        )
    if as_json:
        print_json({"ok": errors == 0, "errors": errors, "runbooks": report})
        return EXIT_FAILURE if errors else EXIT_OK
    for entry in report:
        for finding in entry["findings"]:
            place = cell_label(finding["cell"]) if finding["cell"] is not None else "notebook"
            style = "red" if finding["severity"] == "error" else "yellow"
            console.print(
                f"{escape(entry['runbook'])}: {place}: [{style}]{finding['severity']}"
                f"[/{style}] {escape(finding['message'])} "
                f"[dim]({finding['code']})[/dim]"
            )
    console.print(f"{len(report)} runbook(s) checked, {errors} error(s)")
    return EXIT_FAILURE if errors else EXIT_OK
