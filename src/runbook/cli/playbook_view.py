"""How a playbook run looks: a live per-target table with a progress bar, or plain lines."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from runbook.cli.output import err_console
from runbook.cli.terminal_text import safe_markup
from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import PlaybookRun, TargetRecord
from runbook.orchestrate.playbooks.fleet_runner import FleetListener

STYLE: Final = {
    TargetState.PENDING: "dim",
    TargetState.RUNNING: "cyan",
    TargetState.SUCCEEDED: "green",
    TargetState.FAILED: "red",
    TargetState.SKIPPED: "yellow",
    TargetState.CANCELLED: "yellow",
    TargetState.ADDED: "magenta",
    TargetState.REMOVED: "magenta",
    TargetState.INTERRUPTED: "red",
}
# Shown first when the table must be cut to fit the terminal.
_URGENCY: Final = {
    TargetState.RUNNING: 0,
    TargetState.FAILED: 1,
    TargetState.INTERRUPTED: 1,
    TargetState.ADDED: 2,
    TargetState.REMOVED: 2,
    TargetState.CANCELLED: 3,
    TargetState.SKIPPED: 4,
    TargetState.PENDING: 5,
    TargetState.SUCCEEDED: 6,
}


def state_text(record: TargetRecord) -> str:
    """The state with its drift flags, as the table shows it (``SUCCEEDED +added``)."""
    flags = [flag for flag, on in (("+added", record.added), ("-removed", record.removed)) if on]
    shown = " ".join([record.state.value, *flags])
    style = STYLE[record.state]
    return f"[{style}]{shown}[/{style}]"


def target_table(records: list[TargetRecord], limit: int | None = None) -> Table:
    """A row per target in run order; with ``limit``, the most telling rows and a count."""
    table = Table("target", "batch", "state", "#", "took", "message", box=None)
    shown = records
    if limit is not None and len(records) > limit:
        chosen = sorted(records, key=lambda r: (_URGENCY[r.state], r.position))[: max(limit, 1)]
        shown = sorted(chosen, key=lambda r: r.position)
    for record in shown:
        took = ""
        if record.started_at and record.finish_ts:
            took = f"{(record.finish_ts - record.started_at).total_seconds():.1f} s"
        table.add_row(
            safe_markup(record.name),
            str(record.batch or ""),
            state_text(record),
            str(record.start_seq or ""),
            took,
            safe_markup((record.message or "")[:100]),
        )
    hidden = len(records) - len(shown)
    if hidden:
        left = Counter(r.state.value for r in records if r not in shown)
        table.add_row(f"… {hidden} more", "", ", ".join(f"{n} {s}" for s, n in left.items()))
    return table


def counts_line(records: list[TargetRecord]) -> str:
    """``3 SUCCEEDED, 1 FAILED, …`` in the order of the states."""
    counts = Counter(record.state for record in records)
    return ", ".join(f"{counts[s]} {s.value}" for s in TargetState if counts[s])


def done(records: list[TargetRecord]) -> int:
    """How many targets will not change any more in this run (ADDED ones left alone too)."""
    return sum(
        1 for r in records if r.state.finished or (r.state is TargetState.ADDED and not r.batch)
    )


class LiveView:
    """A progress bar over the targets and the table under it, redrawn as records change."""

    def __init__(self, title: str) -> None:
        self._records: dict[str, TargetRecord] = {}
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn(safe_markup(title)),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
        )
        self._task = self._progress.add_task("", total=0)
        # Drawn by Live's own thread four times a second, whatever the number of changes:
        # 500 targets change 1,500 times in a second or two.
        self.live = Live(get_renderable=self._render, console=err_console, refresh_per_second=4)

    def show(self, records: list[TargetRecord]) -> None:
        """Replace every record (a poll of the store)."""
        with self._lock:
            self._records = {record.name: record for record in records}

    def change(self, record: TargetRecord) -> None:
        """One record changed."""
        with self._lock:
            self._records[record.name] = record

    def _render(self) -> RenderableType:
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: r.position)
        self._progress.update(
            self._task,
            total=len(records),
            completed=done(records),
            description=counts_line(records),
        )
        rows = max(shutil.get_terminal_size().lines - 6, 5)
        return Group(self._progress, target_table(records, limit=rows))


class RunListener(FleetListener):
    """What ``playbook run`` shows while it runs: the live view, or one line per change."""

    def __init__(self, *, live: bool, quiet: bool) -> None:
        self.live = live
        self.quiet = quiet
        self.view: LiveView | None = None
        self._printed: dict[str, tuple[TargetState, bool, bool]] = {}

    def run_started(self, run: PlaybookRun, targets: list[TargetRecord]) -> None:
        batches = len({t.batch for t in targets})
        plural = "es" if batches != 1 else ""
        line = (
            f"playbook run {run.id}: {run.playbook} revision {run.revision} (version "
            f"{run.version}), {len(targets)} target{'s' if len(targets) != 1 else ''} in "
            f"{batches} batch{plural}"
        )
        if self.live:
            self.view = LiveView(run.id)
            self.view.show(targets)
            err_console.print(safe_markup(line))
            self.view.live.start()
        elif not self.quiet:
            err_console.print(safe_markup(line))

    def target_changed(self, record: TargetRecord) -> None:
        if self.view is not None:
            self.view.change(record)
            return
        if self.quiet or not (record.state.finished or record.state is TargetState.ADDED):
            return
        key = (record.state, record.added, record.removed)
        if self._printed.get(record.name) == key:
            return  # e.g. an ADDED target given its batch: nothing new to say
        self._printed[record.name] = key
        note = f" ({record.message})" if record.message else ""
        flags = [f for f, on in (("+added", record.added), ("-removed", record.removed)) if on]
        shown = " ".join([record.state.value, *flags])
        err_console.print(safe_markup(f"{record.name}: {shown}{note}"))

    def run_finished(self, run: PlaybookRun) -> None:
        self.stop()

    def stop(self) -> None:
        """Leave the live display (also when the run was refused or crashed)."""
        if self.view is not None:
            self.view.live.stop()
            self.view = None


@contextmanager
def listening(*, live: bool, quiet: bool) -> Iterator[RunListener]:
    """A RunListener whose live display is always stopped at the end."""
    listener = RunListener(live=live, quiet=quiet)
    try:
        yield listener
    finally:
        listener.stop()
