"""``plan --force``: the ``check`` errors a planner chose to override, kept on the plan.

A runbook with ``runbook check`` errors is not planned unless the planner forces it. The
errors forced past are written into the plan notebook (``metadata.runbook.plan.forced``),
inside the hashed content: the reviewer sees them, nobody can remove them without voiding
the plan, and a forced plan always needs a review, whatever ``[review]`` says.
"""

from __future__ import annotations

import json
from typing import Any, Final

from runbook.errors import CheckFailedError
from runbook.model.cells import cell_label
from runbook.model.lint import Finding, Severity, check_runbook
from runbook.model.notebook import Runbook
from runbook.model.plan import Plan
from runbook.typing import JsonValue

#: The key under ``metadata.runbook.plan`` that lists the overridden errors.
FORCED_KEY: Final = "forced"


def check_for_planning(runbook: Runbook, where: str, *, force: bool) -> list[JsonValue]:
    """The runbook's ``check`` errors as plan records, when ``force``; without it, raise
    CheckFailedError naming the first error (its cell and rule) and how many there are.

    An empty list means there was nothing to force: the plan records nothing.
    """
    errors = [f for f in check_runbook(runbook) if f.severity is Severity.ERROR]
    if errors and not force:
        first = errors[0]
        raise CheckFailedError(where, _place(first), first.code, first.message, len(errors))
    return [_record(f) for f in errors]


def notebook_forced(notebook: Any) -> list[dict[str, Any]]:
    """The errors a plan notebook (or its canonical JSON, parsed) records as forced."""
    plan = notebook.get("metadata", {}).get("runbook", {}).get("plan", {})
    forced = plan.get(FORCED_KEY, []) if isinstance(plan, dict) else []
    return (
        [entry for entry in forced if isinstance(entry, dict)] if isinstance(forced, list) else []
    )


def plan_forced(plan: Plan) -> list[dict[str, Any]]:
    """The errors ``plan`` was forced past, read from its recorded (hashed) content."""
    return notebook_forced(json.loads(plan.content))


def forced_line(entry: dict[str, Any]) -> str:
    """One forced error as a line: ``cell 3: call-without-confirm: calls os.system()…``."""
    cell = entry.get("cell")
    place = cell_label(cell) if isinstance(cell, int) else "notebook"
    return f"{place}: {entry.get('code', '?')}: {entry.get('message', '')}"


def _place(finding: Finding) -> str:
    return cell_label(finding.cell) if finding.cell is not None else "notebook"


def _record(finding: Finding) -> JsonValue:
    return {"code": finding.code, "cell": finding.cell, "message": finding.message}
