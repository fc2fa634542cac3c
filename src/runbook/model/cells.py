"""Naming a notebook's cells: one numbering for the screen, the log, the store and ``--from``.

Cells are numbered from 0, in the order of the notebook's ``cells`` list: the number a cell
has on the run's screen is the one ``runbook log``, ``check``, ``review``, the reports, the
store's cell events and the audit log give it, and the one ``--from`` takes. Where the count
is at hand it is shown too: ``cell 3 of 7`` is the fourth of seven cells, numbered 0 to 6.
A cell may also be named by its nbformat id wherever a number is accepted.
"""

from __future__ import annotations

from runbook.errors import UsageError
from runbook.typing import Notebook


def cell_label(index: int, total: int | None = None) -> str:
    """``cell 3``, or ``cell 3 of 7`` when the number of cells is given."""
    return f"cell {index}" if total is None else f"cell {index} of {total}"


def find_cell(notebook: Notebook, reference: str, option: str = "--from") -> int:
    """The index of the cell ``reference`` names: its number, or its id.

    Raises UsageError naming ``option`` and the cells there are when no cell answers.
    """
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else notebook.cells
    text = reference.strip()
    number = text.isascii() and text.isdigit()
    if number and int(text) < len(cells):
        return int(text)
    # After the numbers: a generated cell id may be all digits (8 hex digits: ~2 % of them).
    for index, cell in enumerate(cells):
        if cell.get("id") == text:
            return index
    if number:
        raise UsageError(
            f"{option} {reference}: the plan has cells 0 to {len(cells) - 1} "
            "(numbered from 0, as the run shows them), or give a cell id"
        )
    raise UsageError(f"{option} {reference}: no cell has that number or id")
