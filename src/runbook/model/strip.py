"""The git clean filter: strip outputs and volatile metadata from notebooks.

git runs this on every ``git add`` of a runbook, so it imports only the standard library
(nbformat takes longer to import than stripping a typical notebook) and works on plain JSON.
It never touches what gives a runbook its meaning: ``metadata.runbook``, cell tags, cell ids.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from runbook.errors import NotebookFormatError
from runbook.model.files import notebook_json

# Values that change on every execution or are written by tools, never by the author.
CELL_METADATA_STRIPPED = frozenset(
    {"execution", "ExecuteTime", "collapsed", "scrolled", "papermill"}
)
NOTEBOOK_METADATA_STRIPPED = frozenset({"signature", "widgets", "papermill"})

# nbstripout's convention, so a repository migrating from nbstripout keeps its pinned outputs.
KEEP_OUTPUT_TAG = "keep_output"


def strip_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``nb`` without outputs, execution counts and volatile metadata.

    Code cells get ``outputs = []`` and ``execution_count = None`` unless tagged
    ``keep_output``. Cell metadata loses ``execution``, ``ExecuteTime``, ``collapsed``,
    ``scrolled`` and ``papermill``; notebook metadata loses ``signature``, ``widgets`` and
    ``papermill``. Everything else is kept as is. The input is not modified, and stripping a
    stripped notebook changes nothing.
    """
    stripped: dict[str, Any] = {}
    for key, value in nb.items():
        if key == "cells" and isinstance(value, list):
            stripped[key] = [_strip_cell(cell) for cell in value]
        elif key == "metadata" and isinstance(value, dict):
            stripped[key] = {
                name: copy.deepcopy(item)
                for name, item in value.items()
                if name not in NOTEBOOK_METADATA_STRIPPED
            }
        else:
            stripped[key] = copy.deepcopy(value)
    return stripped


def _strip_cell(cell: object) -> object:
    if not isinstance(cell, dict):
        # Not ours to judge here: strip_text reports malformed cells, the filter passes them on.
        return copy.deepcopy(cell)
    metadata = cell.get("metadata")
    strip_outputs = cell.get("cell_type") == "code" and not _keeps_output(metadata)
    stripped: dict[str, Any] = {}
    for key, value in cell.items():
        if key == "metadata" and isinstance(value, dict):
            stripped[key] = {
                name: copy.deepcopy(item)
                for name, item in value.items()
                if name not in CELL_METADATA_STRIPPED
            }
        elif strip_outputs and key in ("outputs", "execution_count"):
            # Skipped without copying: outputs can hold megabytes of images.
            continue
        else:
            stripped[key] = copy.deepcopy(value)
    if strip_outputs:
        stripped["outputs"] = []
        stripped["execution_count"] = None
    return stripped


def _keeps_output(metadata: Any) -> bool:
    if not isinstance(metadata, dict):
        return False
    tags = metadata.get("tags")
    return isinstance(tags, list) and KEEP_OUTPUT_TAG in tags


def strip_text(text: str, where: str = "<stdin>") -> str:
    """Strip a notebook given as JSON text and serialise it the way Jupyter writes notebooks.

    The output is ``json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False)`` plus a
    final newline, which is nbformat's layout: a notebook saved by Jupyter without outputs
    comes back byte for byte, so the filter never shows a diff the author did not make.
    ``where`` names the file in errors. Raises :class:`NotebookFormatError` when the text is
    not JSON, not an object, or has no ``cells`` list.
    """
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise NotebookFormatError(where, f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise NotebookFormatError(where, "JSON nested too deeply") from exc
    if not isinstance(nb, dict):
        raise NotebookFormatError(where, f"the top level is a JSON {_json_type(nb)}, not an object")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        reason = (
            "no 'cells' list"
            if cells is None
            else f"'cells' is a JSON {_json_type(cells)}, not a list"
        )
        raise NotebookFormatError(where, reason)
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise NotebookFormatError(
                where, f"cell {index} is a JSON {_json_type(cell)}, not an object"
            )
    return notebook_json(strip_notebook(nb))


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "object"
