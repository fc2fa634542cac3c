"""A run as a person sees it: cells rendered, outputs live, timings, and the prompts at gates."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from runbook.cli.terminal_text import ansi_text, safe_markup, visible_controls
from runbook.engine.hooks import RunContext, RunObserver, output_text
from runbook.model.cells import cell_label
from runbook.model.injection import cell_tags
from runbook.model.plan_values import PlanValue, plan_values
from runbook.model.run import CellEvent, CellStatus, Decision, RunState
from runbook.typing import Cell, Output

_STATUS_STYLE = {
    CellStatus.SUCCEEDED: "green",
    CellStatus.EXITED: "green",
    CellStatus.FAILED: "red",
    CellStatus.INTERRUPTED: "red",
    CellStatus.SKIPPED: "yellow",
    CellStatus.SHOWN: "dim",
}


class ConsoleObserver(RunObserver):
    """Prints the run as it happens. ``full`` renders markdown and code (interactive mode).

    Cells are named as everywhere else (``model.cells``): ``cell 3 of 7`` is the cell that
    ``runbook log`` calls cell 3 and ``--from 3`` starts at.
    """

    def __init__(self, console: Console, *, full: bool) -> None:
        self.console = console
        self.full = full
        self._started = time.monotonic()
        #: The number of cells of the notebook being run (known once it started).
        self.total: int | None = None
        #: The plan's parameter values, masked, as shown before a confirm cell.
        self.values: list[PlanValue] = []

    def run_started(self, ctx: RunContext) -> None:
        self._started = time.monotonic()
        self.total = len(ctx.notebook.cells)
        self.values = [
            PlanValue(v.name, ctx.masker.mask(v.text), v.secret) for v in plan_values(ctx.notebook)
        ]
        mode = "dry run" if ctx.dry_run else ctx.run.mode.value
        self.console.rule(f"run {ctx.run.id} of plan {ctx.run.plan_id} ({mode})")

    def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
        if self.full:
            self.console.print(_code_panel(index, self.total, cell), soft_wrap=False)
        else:
            tags = ", ".join(cell_tags(cell))
            self.console.print(
                f"[bold]▶ {cell_label(index, self.total)}[/bold]"
                + (" " + safe_markup(f"[{tags}]") if tags else "")
            )

    def cell_previewed(self, ctx: RunContext, index: int, cell: Cell, note: str) -> None:
        """A dry run shows each confirm cell whole, with the values it would act on."""
        self.console.print(_code_panel(index, self.total, cell), soft_wrap=False)
        print_values(self.console, self.values)
        self.console.print(Text(f"  dry run: {note}", style="yellow"), soft_wrap=False)

    def cell_output(self, ctx: RunContext, index: int, output: Output) -> None:
        text = output_text(output)
        style = (
            "red"
            if output.get("output_type") == "error" or output.get("name") == "stderr"
            else None
        )
        self.console.print(ansi_text(text.rstrip("\n")), style=style)

    def decided(self, ctx: RunContext, index: int, cell: Cell, decision: Decision, by: str) -> None:
        self.console.print(f"[cyan]  {decision.value}[/cyan] by {safe_markup(by)}")

    def cell_finished(self, ctx: RunContext, index: int, cell: Cell, event: CellEvent) -> None:
        if event.status is CellStatus.SHOWN:
            if self.full and cell.cell_type == "markdown":
                from rich.markdown import Markdown  # markdown-it is slow to import

                self.console.print(Markdown(visible_controls(cell.source)))
            return
        duration = f" in {event.duration:.2f} s" if event.duration is not None else ""
        style = _STATUS_STYLE[event.status]
        elapsed = time.monotonic() - self._started
        self.console.print(
            f"[{style}]  {cell_label(index, self.total)} {event.status.value}"
            f"{duration}[/{style}] [dim](elapsed {elapsed:.1f} s)[/dim]"
        )

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        elapsed = time.monotonic() - self._started
        style = "green" if state is RunState.SUCCEEDED else "red"
        detail = f": {safe_markup(ctx.masker.mask(message))}" if message else ""
        self.console.rule(f"[{style}]{state.value}[/{style}] in {elapsed:.1f} s{detail}")


def print_values(console: Console, values: list[PlanValue]) -> None:
    """The plan's parameter values, one a line, wrapped (never cut) at the terminal's width."""
    if not values:
        console.print(Text("  the plan binds no parameters", style="dim"))
        return
    console.print(Text("  with the plan's values:", style="bold"))
    for value in values:
        line = Text(f"    {visible_controls(value.name)} = ", style="cyan")
        line.append(visible_controls(value.text), style="magenta" if value.secret else None)
        console.print(line, overflow="fold", soft_wrap=False)


def _code_panel(index: int, total: int | None, cell: Cell) -> Any:
    # Imported here: only interactive runs render code, and pygments is slow to import.
    from rich.panel import Panel
    from rich.syntax import Syntax

    tags = cell_tags(cell)
    title = Text(cell_label(index, total))
    for tag in tags:
        title.append(
            f" [{visible_controls(tag)}]", style="bold red" if tag == "confirm" else "cyan"
        )
    return Panel(
        Syntax(visible_controls(cell.source) or " ", "python", word_wrap=True),
        title=title,
        title_align="left",
        border_style="red" if "confirm" in tags else "blue",
    )


class TerminalOperator:
    """A person at a terminal answering at each gate; Ctrl-C at a prompt aborts.

    ``screen`` is the run's console observer: the gates name cells as it does.
    """

    def __init__(self, console: Console, user: str, screen: ConsoleObserver | None = None) -> None:
        self.console = console
        self._user = user
        self._screen = screen

    def _label(self, index: int) -> str:
        return cell_label(index, self._screen.total if self._screen else None)

    @property
    def name(self) -> str:
        """The person answering."""
        return self._user

    @property
    def recovery_by(self) -> str:
        """After a failure too, the person at the terminal chooses."""
        return self._user

    def confirm(self, index: int, cell: Cell) -> Decision:
        """Ask before a mutative (confirm) cell: its whole source, wrapped, and the values."""
        # soft_wrap=False: the console's default (soft wrap) would crop the panel's lines.
        shown = _code_panel(index, self._screen.total if self._screen else None, cell)
        self.console.print(shown, soft_wrap=False)
        print_values(self.console, self._screen.values if self._screen else [])
        return self._ask(
            "Run this mutative step? [y]es / [s]kip / [a]bort / [r]ollback",
            {"y": Decision.YES, "s": Decision.SKIP, "a": Decision.ABORT, "r": Decision.ROLLBACK},
        )

    def acknowledge(self, index: int, cell: Cell) -> Decision:
        """Show a manual step and wait until the person says it is done."""
        from rich.markdown import Markdown
        from rich.panel import Panel

        self.console.print(
            Panel(
                Markdown(visible_controls(cell.source)),
                title=f"manual step ({self._label(index)})",
                border_style="yellow",
            )
        )
        return self._ask(
            "Done? [y]es, done / [s]kip / [a]bort / [r]ollback",
            {
                "y": Decision.ACKNOWLEDGED,
                "s": Decision.SKIP,
                "a": Decision.ABORT,
                "r": Decision.ROLLBACK,
            },
        )

    def on_failure(self, index: int, cell: Cell, error: str) -> Decision:
        """Ask what to do after a failing cell."""
        self.console.print(f"[red]{self._label(index)} failed: {safe_markup(error)}[/red]")
        return self._recovery()

    def on_interrupt(self, index: int, cell: Cell) -> Decision:
        """Ask what to do after Ctrl-C interrupted a cell."""
        self.console.print(f"[yellow]{self._label(index)} interrupted[/yellow]")
        return self._recovery()

    def _recovery(self) -> Decision:
        return self._ask(
            "[r]etry / [s]kip / [a]bort / roll[b]ack",
            {"r": Decision.RETRY, "s": Decision.SKIP, "a": Decision.ABORT, "b": Decision.ROLLBACK},
        )

    def _ask(self, question: str, answers: dict[str, Decision]) -> Decision:
        try:
            answer = click.prompt(question, type=click.Choice(list(answers)), show_choices=False)
        except (click.Abort, KeyboardInterrupt, EOFError):
            return Decision.ABORT
        return answers[answer]
