"""A readable diff between two notebooks: cell by cell, tags shown, outputs ignored."""

from __future__ import annotations

import difflib

from runbook.model.cells import cell_label
from runbook.model.injection import cell_tags
from runbook.typing import Notebook


def notebook_lines(notebook: Notebook) -> list[str]:
    """The notebook as text lines: a header per cell (kind and tags), then its source."""
    lines: list[str] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        tags = cell_tags(cell)
        label = f" [{', '.join(tags)}]" if tags else ""
        lines.append(f"# --- {cell_label(index)}: {cell.get('cell_type', '?')}{label}")
        source = cell.get("source", "")
        lines.extend(("".join(source) if isinstance(source, list) else source).splitlines())
    return lines


def notebook_diff(
    before: Notebook, after: Notebook, before_name: str, after_name: str
) -> list[str]:
    """Unified diff lines from ``before`` to ``after``; empty when their cells match."""
    return list(
        difflib.unified_diff(
            notebook_lines(before),
            notebook_lines(after),
            fromfile=before_name,
            tofile=after_name,
            lineterm="",
        )
    )
