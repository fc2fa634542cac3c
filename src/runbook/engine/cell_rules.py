"""Which cells the loop executes without a person's yes: to rebuild state, and in a dry run.

On resume (``--from``) earlier cells are executed again to rebuild the kernel's state, except
those that act. In a dry run a ``confirm`` cell is never executed, unless the runbook declares
that its confirm cells act only through the helpers (``metadata.runbook.dry_run =
"helpers"``): the kernel then runs with ``RUNBOOK_DRY_RUN=1`` and ``sh(..., mutative=True)``
only announces its command. Even then a cell that ``check`` sees acting around the helpers
(a direct ``subprocess``/``os``/``shutil`` call, ``!`` or a shell magic, a mutative-looking
``sh`` without ``mutative=True``) is not executed: a forced plan may hold one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from runbook.model.injection import cell_tags
from runbook.model.lint import MUTATIVE_PATTERNS, NOT_MUTATIVE_MARK, acts_around_helpers
from runbook.model.lint_calls import DRY_RUN_VARIABLE, notebook_names, scan_cell
from runbook.typing import Cell, Notebook

#: Tags of cells that are never re-executed to rebuild kernel state on resume.
NOT_REBUILT: Final = frozenset({"confirm", "rollback", "manual", "skip-execution"})


def rebuildable(cell: Cell) -> bool:
    """Whether a cell before ``--from`` may run again to rebuild the kernel's state."""
    if NOT_REBUILT & set(cell_tags(cell)):
        return False
    if NOT_MUTATIVE_MARK in cell.source:
        return True
    return not any(pattern.search(cell.source) for pattern in MUTATIVE_PATTERNS)


@dataclass(frozen=True)
class DryRunStep:
    """What a dry run does with a confirm cell: execute it (helpers announcing) or not, and
    why, in words for the person watching."""

    execute: bool
    note: str


def dry_run_step(notebook: Notebook, cell: Cell) -> DryRunStep:
    """Whether a dry run executes this confirm cell, with the helpers only announcing."""
    declared = notebook.metadata.get("runbook", {}).get("dry_run")
    if declared != "helpers":
        return DryRunStep(False, "not executed in a dry run")
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    if any(DRY_RUN_VARIABLE in source for source in code):
        return DryRunStep(False, f"not executed: a cell names {DRY_RUN_VARIABLE}")
    scan = scan_cell(cell.source, notebook_names(code))
    around = acts_around_helpers(scan)
    if around is not None:
        return DryRunStep(False, f"not executed: it {around} (see `runbook check`)")
    return DryRunStep(
        True, "executed with the helpers announcing: sh(..., mutative=True) runs nothing"
    )
