"""What an anonymous caller may not see: the parameters, outputs and logs of private runbooks.

A runbook tagged ``private`` keeps its title, cells' code and the states of its plans and
runs visible to anonymous readers (when anonymous access is on at all), but not the values
it is planned with, the parameters it declares, what its cells printed or failed with, or
its runs' messages. Identified principals see everything their role lets them read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from runbook.model.injection import PARAMETERS_TAG
from runbook.model.plan import Plan
from runbook.model.roles import Principal

PRIVATE_TAG: Final = "private"
#: What stands in for a hidden value, so a reader knows something is there.
HIDDEN: Final = "(hidden: private runbook)"


def hides_private(principal: Principal, runbook_tags: Iterable[str]) -> bool:
    """Whether ``principal`` must not see the private parts of a runbook with these tags."""
    return principal.anonymous and PRIVATE_TAG in set(runbook_tags)


def plan_tags(plan: Plan) -> tuple[str, ...]:
    """The tags of the runbook as it was planned (from the plan's frozen notebook)."""
    try:
        tags = json.loads(plan.content)["metadata"]["runbook"]["tags"]
    except (ValueError, KeyError, TypeError):
        return ()
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def redact_runbook(summary: dict[str, Any]) -> dict[str, Any]:
    """A runbook's JSON form without its declared parameters or its parameters cell."""
    shown = {**summary, "parameters": {}, "redacted": True}
    if "cells" in summary:
        shown["cells"] = [
            {**cell, "source": HIDDEN} if PARAMETERS_TAG in cell.get("tags", []) else cell
            for cell in summary["cells"]
        ]
    return shown


def redact_plan(summary: dict[str, Any]) -> dict[str, Any]:
    """A plan's JSON form without its values."""
    return {
        **summary,
        "parameters": dict.fromkeys(summary["parameters"], HIDDEN),
        "redacted": True,
    }


#: What a reader who may not see a private plan's values gets of its diff (which shows them).
HIDDEN_DIFF: Final[dict[str, Any]] = {
    "against": None,
    "changed": False,
    "lines": [],
    "unavailable": "hidden: the runbook is private",
    "redacted": True,
}


def redact_run(summary: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON form (with its cells, if any) without messages or cell errors."""
    shown = {**summary, "message": HIDDEN if summary.get("message") else None, "redacted": True}
    if "cells" in summary:
        shown["cells"] = [
            {**cell, "error": HIDDEN if cell.get("error") else None} for cell in summary["cells"]
        ]
    return shown
