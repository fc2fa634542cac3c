"""Rendering notebooks and diffs for people: markdown rendered, code highlighted, tags shown.

Sources are shown with their control characters written out (``visible_controls``): what a
reviewer approves is what the terminal shows, not what an escape sequence in it redrew.
"""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from runbook.cli.terminal_text import visible_controls
from runbook.model.cells import cell_label
from runbook.model.injection import cell_tags
from runbook.typing import Notebook

_TAG_STYLES = {
    "confirm": "bold red",
    "rollback": "magenta",
    "precheck": "cyan",
    "verify": "green",
    "manual": "yellow",
    "injected-parameters": "bold blue",
}


def render_notebook(console: Console, notebook: Notebook) -> None:
    """Print every cell: markdown rendered, code in a highlighted panel titled by its tags."""
    language = notebook.metadata.get("kernelspec", {}).get("language", "python")
    for index, cell in enumerate(notebook.cells):
        tags = cell_tags(cell)
        title = Text(cell_label(index))
        for tag in tags:
            title.append(f" [{visible_controls(tag)}]", style=_TAG_STYLES.get(tag, "dim"))
        if cell.cell_type == "markdown":
            console.print(title, style="dim")
            console.print(Markdown(visible_controls(cell.source)))
        elif cell.cell_type == "code":
            border = "red" if "confirm" in tags else "blue" if tags else "grey50"
            console.print(
                Panel(
                    Syntax(
                        visible_controls(cell.source) or " ",
                        language,
                        line_numbers=False,
                        word_wrap=True,
                    ),
                    title=title,
                    title_align="left",
                    border_style=border,
                ),
                soft_wrap=False,  # the console soft-wraps, which would crop the panel's lines
            )
        else:
            console.print(title, style="dim")
            console.print(Text(visible_controls(cell.source)))


def render_diff(console: Console, lines: list[str]) -> None:
    """Print unified diff lines coloured by kind."""
    for line in lines:
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else "cyan"
            if line.startswith("@@")
            else ""
        )
        console.print(escape(visible_controls(line)), style=style or None)
