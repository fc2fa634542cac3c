"""Notebooks from the wild: read as papermill and nbclient read them, made valid for the plan.

Most notebooks are saved as nbformat 4.0 to 4.4, without cell ids. Papermill upgrades what it
reads to 4.5 (every cell gets an id) and nbclient runs notebooks whose metadata nbformat's
validator rejects. Runbook does both when it reads a runbook, so a plan is always a valid
nbformat 4.5 notebook: :func:`upgrade` gives every cell an id, and :func:`repair` fixes or
drops what the validator rejects but nbclient ignores. What nbclient could not execute either
(no cells, a cell without a type, a source that is not text) stays an error.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id
from nbformat.validator import normalize

from runbook.errors import NotebookFormatError
from runbook.model.kernelspec import DEFAULT_KERNEL, DEFAULT_KERNELSPEC
from runbook.typing import Notebook

_CELL_ID: Final = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_CURRENT_MINOR: Final = 5
_CELL_TYPES: Final = frozenset({"code", "markdown", "raw"})
_OUTPUT_TYPES: Final = frozenset({"execute_result", "display_data", "stream", "error"})


def saved_format(notebook: Notebook) -> str:
    """The nbformat version a notebook was saved in, like ``4.2``."""
    return f"{notebook.get('nbformat', '?')}.{notebook.get('nbformat_minor', 0)}"


def upgrade(notebook: Notebook) -> list[str]:
    """Make ``notebook`` nbformat 4.5 in place, as papermill does; returns what it replaced.

    A cell without an id gets a fresh one (nothing to say: 4.0-4.4 have none); an id that is
    not valid or repeats an earlier one is replaced, and said, since it names another cell now.
    """
    notes: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict):
            continue  # not a cell: validation says so
        old = cell.get("id")
        if isinstance(old, str) and _CELL_ID.fullmatch(old) and old not in seen:
            seen.add(old)
            continue
        cell["id"] = _fresh_id(seen)
        if old is not None:
            notes.append(f"cells[{index}].id {_shown(old)} replaced (invalid or repeated)")
    if notebook.get("nbformat") == 4:
        notebook["nbformat_minor"] = max(_as_int(notebook.get("nbformat_minor")), _CURRENT_MINOR)
    return notes


def repair(notebook: Notebook, where: str) -> list[str]:
    """Fix in place what nbformat's validator rejects but nbclient runs; returns what changed.

    Unknown keys where the schema allows none are dropped; a kernelspec without a name
    becomes the default kernel's; repeated tags are kept once; other metadata values the
    schema rejects are dropped (nbformat's own ``strip_invalid_metadata``). Tags that are not
    a list of text are refused (NotebookFormatError): dropping them could drop a ``confirm``.
    """
    notes = _drop_unknown_keys(notebook)
    notes += _repair_kernelspec(notebook.get("metadata"))
    for index, cell in enumerate(notebook.get("cells", [])):
        if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
            notes += _repair_tags(cell["metadata"], f"cells[{index}]", where)
    notes += _strip_invalid_metadata(notebook)
    return notes


def drop_invalid_language(notebook: Notebook) -> list[str]:
    """Drop a ``kernelspec.language`` that is not text (the schema allows it; Runbook names
    the code's language by it); returns what changed."""
    spec = notebook.get("metadata", {}).get("kernelspec")
    if isinstance(spec, dict) and "language" in spec and not isinstance(spec["language"], str):
        del spec["language"]
        return ["metadata.kernelspec.language dropped (not text)"]
    return []


def _drop_unknown_keys(notebook: Notebook) -> list[str]:
    definitions = _schema()["definitions"]
    dropped = _drop(notebook, _schema()["properties"], "")
    for index, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict):
            continue
        if not isinstance(cell.get("cell_type"), str) or cell["cell_type"] not in _CELL_TYPES:
            continue
        definition = definitions[f"{cell['cell_type']}_cell"]
        dropped += _drop(cell, definition["properties"], f"cells[{index}].")
        outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
        for number, output in enumerate(outputs if isinstance(outputs, list) else []):
            kind = output.get("output_type") if isinstance(output, dict) else None
            if isinstance(kind, str) and kind in _OUTPUT_TYPES:
                known = definitions[kind]["properties"]
                dropped += _drop(output, known, f"cells[{index}].outputs[{number}].")
    return [f"unknown keys dropped ({', '.join(dropped)})"] if dropped else []


def _drop(node: dict[str, Any], known: dict[str, Any], prefix: str) -> list[str]:
    extra = [key for key in node if key not in known]
    for key in extra:
        del node[key]
    return [f"{prefix}{key}" for key in extra]


def _repair_kernelspec(metadata: Any) -> list[str]:
    if not isinstance(metadata, dict) or "kernelspec" not in metadata:
        return []
    spec = metadata["kernelspec"]
    if isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec["name"]:
        notes: list[str] = []
        if not isinstance(spec.get("display_name"), str):
            spec["display_name"] = spec["name"]
            notes.append("metadata.kernelspec.display_name set to its name")
        return notes
    metadata["kernelspec"] = dict(DEFAULT_KERNELSPEC)
    return [f"metadata.kernelspec names no kernel: the default kernel, {DEFAULT_KERNEL}"]


def _repair_tags(metadata: dict[str, Any], place: str, where: str) -> list[str]:
    if "tags" not in metadata:
        return []
    tags = metadata["tags"]
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise NotebookFormatError(where, f"{place}.metadata.tags must be a list of text")
    unique = list(dict.fromkeys(tags))
    if len(unique) == len(tags):
        return []
    metadata["tags"] = unique
    return [f"{place}.metadata.tags repeated: kept once"]


def _strip_invalid_metadata(notebook: Notebook) -> list[str]:
    before = _metadata_keys(notebook)
    try:
        _, cleaned = normalize(notebook, strip_invalid_metadata=True)
    except Exception:  # a notebook too broken to strip: validation says why
        return []
    after = _metadata_keys(cleaned)
    notebook["metadata"] = cleaned.get("metadata", notebook.get("metadata"))
    for index, cell in enumerate(notebook.get("cells", [])):
        if isinstance(cell, dict) and "metadata" in cell:
            cell["metadata"] = copy.deepcopy(cleaned["cells"][index]["metadata"])
    return [f"{place}metadata.{key} dropped (not valid)" for place, key in sorted(before - after)]


def _metadata_keys(notebook: Notebook) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    if isinstance(notebook.get("metadata"), dict):
        keys |= {("", key) for key in notebook["metadata"]}
    for index, cell in enumerate(notebook.get("cells", [])):
        if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
            keys |= {(f"cells[{index}].", key) for key in cell["metadata"]}
    return keys


@cache
def _schema() -> dict[str, Any]:
    folder = Path(nbformat.v4.__file__).parent
    schema: dict[str, Any] = json.loads(
        (folder / nbformat.v4.nbformat_schema[(4, _CURRENT_MINOR)]).read_text(encoding="utf-8")
    )
    return schema


def _fresh_id(seen: set[str]) -> str:
    new = str(random_cell_id())
    while new in seen:
        new = str(random_cell_id())
    seen.add(new)
    return new


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _shown(value: object) -> str:
    return repr(value)[:40]
