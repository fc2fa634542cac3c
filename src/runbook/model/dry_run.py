"""What a dry run announced: the commands ``sh(…, mutative=True)`` would have run.

In a dry run the helpers print one line per such command instead of running it
(:func:`runbook.helpers.sh`); the executed notebook keeps those lines in its cells' stream
outputs, so the commands can be listed per cell afterwards (``runbook run --dry-run --json``).
A cell can print anything, so this is what the run showed, not proof of what a cell does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from runbook.typing import Notebook

#: The line the helpers print for a command they only announce.
ANNOUNCED_PREFIX: Final = "[dry-run] would run: "


@dataclass(frozen=True)
class AnnouncedCommand:
    """One command a cell would have run."""

    cell: int
    command: str


def announced_commands(notebook: Notebook) -> list[AnnouncedCommand]:
    """Every announced command in the executed notebook's stdout streams, in cell order."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            for line in text.splitlines():
                if line.startswith(ANNOUNCED_PREFIX):
                    found.append(AnnouncedCommand(index, line.removeprefix(ANNOUNCED_PREFIX)))
    return found
