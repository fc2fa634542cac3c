"""The plan's parameter values as a person is shown them before a step acts on them.

Read from the plan notebook itself (``metadata.runbook.plan.parameters``), the content the
review approved. A secret parameter holds a reference (``env:NAME``, ``file:PATH``,
``secret:NAME``) that the kernel resolves: the reference is shown, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from runbook.model.parameters import SECRET_SCHEMES

#: What stands for a secret that is somehow not held as a reference: never its value.
HIDDEN: Final = "***"


@dataclass(frozen=True)
class PlanValue:
    """One bound parameter: its name, the text shown for it, and whether it is secret."""

    name: str
    text: str
    secret: bool = False


def plan_values(notebook: Any) -> list[PlanValue]:
    """The plan's parameters in their planned order; secrets as their references."""
    meta = notebook.get("metadata", {}).get("runbook", {})
    bound = meta.get("plan", {}).get("parameters", {}) if isinstance(meta, dict) else {}
    specs = meta.get("parameters", {}) if isinstance(meta, dict) else {}
    if not isinstance(bound, dict):
        return []
    values = []
    for name, value in bound.items():
        spec = specs.get(name) if isinstance(specs, dict) else None
        secret = isinstance(spec, dict) and spec.get("secret") is True
        if secret:
            reference = isinstance(value, str) and value.partition(":")[0] in SECRET_SCHEMES
            shown = f"{value} (secret: resolved in the kernel)" if reference else HIDDEN
            values.append(PlanValue(str(name), shown, True))
        else:
            values.append(PlanValue(str(name), repr(value)))
    return values
