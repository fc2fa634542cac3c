"""Builders for test runbooks: small notebooks named for the behaviour they pin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from runbook.model.run import Run, RunMode, RunState

Cell = tuple[str, str, list[str]]


def write_runbook(
    path: Path,
    cells: list[Cell],
    *,
    parameters: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    title: str = "Test runbook",
) -> Path:
    """Write a runbook notebook with the given (kind, source, tags) cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, source, cell_tags in cells:
        make: Callable[..., nbformat.NotebookNode] = (
            nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        )
        notebook.cells.append(make(source, metadata={"tags": cell_tags}))
    notebook.metadata["runbook"] = {"title": title, "tags": tags or []}
    if parameters is not None:
        notebook.metadata["runbook"]["parameters"] = parameters
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def restart_runbook(path: Path) -> Path:
    """Precheck, confirm, verify and rollback cells that leave marker files in the cwd."""
    return write_runbook(
        path,
        [
            ("markdown", "# Restart\nWhat this does.", []),
            ("code", "host = 'localhost'", ["parameters"]),
            (
                "code",
                "from pathlib import Path\nPath('precheck.done').write_text(host)\n"
                "print('precheck ok for', host)",
                ["precheck"],
            ),
            ("code", "Path('restarted').write_text(host)\nprint('restarted', host)", ["confirm"]),
            ("code", "assert Path('restarted').exists()\nprint('verified')", ["verify"]),
            ("code", "Path('rolled-back').write_text(host)\nprint('rolled back')", ["rollback"]),
        ],
        parameters={"host": {"type": "str", "default": "localhost"}},
    )


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A YAML flow list of nested aliases ("billion laughs"), about 400 bytes, on one line.

    Each item is a list of ``width`` aliases of the item before: loaded, it shares one
    object per level; walked or serialised, it is ``width ** levels`` strings.
    """
    items = [f"&l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        items.append(f"&l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "[" + ", ".join(items) + "]"


def running_run(mode: RunMode = RunMode.AUTOMATIC) -> Run:
    """The record of a run ``r-1`` of plan ``p-1`` that has just started, for engine tests."""
    return Run(
        id="r-1",
        plan_id="p-1",
        executor="carol",
        mode=mode,
        state=RunState.RUNNING,
        started_at=datetime.now(UTC),
        notebook_path="runs/r-1/x.ipynb",
        lease_owner="host:1",
    )
