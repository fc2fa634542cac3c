"""How ``runbook workflow`` prints runs, from their JSON forms: the store's or a server's.

Local commands turn records into the JSON forms ``--json`` prints
(:mod:`runbook.orchestrate.workflows.workflow_summaries`); with a server, those forms come
from its REST routes. One printer for both, so the output is the same either way.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from rich.live import Live
from rich.table import Table

from runbook.cli.output import console, err_console, print_json, timestamp
from runbook.cli.terminal_text import safe_markup
from runbook.model.workflows.workflow_run import TaskState, WorkflowState
from runbook.orchestrate.remote_client import RemoteClient
from runbook.outcomes import exit_code_for_state

#: Seconds between two looks at a run the server executes.
FOLLOW_EVERY: Final = 0.25
_STYLE: Final = {
    TaskState.PENDING: "dim",
    TaskState.RUNNING: "cyan",
    TaskState.SUCCEEDED: "green",
    TaskState.REUSED: "green",
    TaskState.FAILED: "red",
    TaskState.UPSTREAM_FAILED: "yellow",
    TaskState.INTERRUPTED: "red",
}
Shown = dict[str, Any]


def listing_row(run: Shown) -> tuple[str, ...]:
    """A workflow run's row in ``workflow runs``."""
    return (
        run["id"],
        safe_markup(run["workflow"]),
        run["reference_date"] or "",
        run["trigger"],
        safe_markup(run["started_by"]),
        timestamp(datetime.fromisoformat(run["started_at"])),
        run["state"],
    )


def print_shown(shown: Shown, as_json: bool) -> None:
    """``workflow show``: the run, its parameters and each task."""
    if as_json:
        print_json(shown)
        return
    console.print(
        f"[bold]{safe_markup(shown['id'])}[/bold]  {safe_markup(shown['workflow'])}  "
        f"{shown['state']}"
    )
    console.print(
        f"source: {safe_markup(shown['source'])}  trigger: {shown['trigger']}  "
        f"by: {shown['started_by']}"
    )
    if shown["reference_date"]:
        console.print(f"reference_date: {shown['reference_date']}")
    for key, value in shown["parameters"].items():
        console.print(f"  {safe_markup(key)} = {safe_markup(repr(value))}")
    if shown["message"]:
        console.print(f"message: {safe_markup(shown['message'])}")
    console.print(task_table(shown["tasks"]))


def finish(shown: Shown, as_json: bool) -> int:
    """How ``workflow run`` and ``resume`` end: the run's state, reports, exit code."""
    state = WorkflowState(shown["state"])
    if as_json:
        print_json(shown)
    else:
        err_console.print(f"workflow run {shown['id']}: {state.value}")
        if shown["message"]:
            err_console.print(safe_markup(shown["message"]))
        for task in shown["tasks"]:
            for report in task["reports"]:
                console.print(f"report: {safe_markup(report)}")
        console.print(f"details: runbook workflow show {shown['id']}")
    return exit_code_for_state(state)


def task_table(tasks: list[Shown]) -> Table:
    """Each task's state, tries, run and message."""
    table = Table("task", "state", "tries", "run", "message", box=None)
    for task in tasks:
        style = _STYLE.get(TaskState(task["state"]), "")
        table.add_row(
            safe_markup(task["key"]),
            f"[{style}]{task['state']}[/{style}]" if style else task["state"],
            str(task["attempts"] or ""),
            task["run"] or "",
            safe_markup((task["message"] or "")[:100]),
        )
    return table


@contextmanager
def progress(quiet: bool, keys: list[str] | None = None) -> Iterator[Callable[[Shown], None]]:
    """A listener of task states: a live table on a terminal, else one line each."""
    latest: dict[str, Shown] = {key: _pending(key) for key in keys or ()}
    lock = threading.Lock()
    live_display = not quiet and sys.stderr.isatty()
    live = (
        Live(task_table(list(latest.values())), console=err_console, refresh_per_second=4)
        if live_display
        else None
    )

    def show(task: Shown) -> None:
        with lock:
            latest[task["key"]] = task
            if live is not None:
                live.update(task_table(list(latest.values())))
            elif not quiet:
                note = f" ({task['message']})" if task["message"] else ""
                err_console.print(f"{task['key']}: {task['state']}{safe_markup(note)}")

    if live is None:
        yield show
        return
    with live:
        yield show


def follow(client: RemoteClient, run_id: str, listening: Any, every: float = FOLLOW_EVERY) -> Shown:
    """Show a run the server executes as its tasks change, until it ends; its last form.

    ``listening`` is a :func:`progress` not entered yet: it is entered here.
    """
    seen: dict[str, tuple[str, str | None]] = {}
    with listening as show:
        while True:
            shown: Shown = client.get(f"/workflow-runs/{run_id}")
            for task in shown["tasks"]:
                now = (task["state"], task["message"])
                if seen.get(task["key"]) != now and task["state"] != TaskState.PENDING:
                    seen[task["key"]] = now
                    show(task)
            if WorkflowState(shown["state"]).finished:
                return shown
            time.sleep(every)


def _pending(key: str) -> Shown:
    return {"key": key, "state": TaskState.PENDING.value, "attempts": 0, "run": None,
            "message": None}  # fmt: skip
