"""The cell loop, driven directly: a scripted operator answers, a recorder listens.

No CLI process, no store: ``execute_run`` on a real kernel, so what the loop does at gates,
after failures, when rolling back and when resuming is pinned where it is decided.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import nbformat
import pytest

from runbook.engine.executor import execute_run
from runbook.engine.hooks import RunContext, RunObserver
from runbook.model.run import CellEvent, CellStatus, Decision, RunMode, RunState
from tests.builders import running_run

pytestmark = pytest.mark.kernel


class ScriptedOperator:
    """Answers every gate and failure from a script, in order; records what it was asked."""

    name = "carol"
    recovery_by = "carol"

    def __init__(self, *answers: Decision) -> None:
        self.answers = deque(answers)
        self.asked: list[tuple[str, int]] = []

    def _answer(self, what: str, index: int) -> Decision:
        self.asked.append((what, index))
        return self.answers.popleft()

    def confirm(self, index: int, cell: Any) -> Decision:
        return self._answer("confirm", index)

    def acknowledge(self, index: int, cell: Any) -> Decision:
        return self._answer("acknowledge", index)

    def on_failure(self, index: int, cell: Any, error: str) -> Decision:
        return self._answer("failure", index)

    def on_interrupt(self, index: int, cell: Any) -> Decision:
        return self._answer("interrupt", index)


class Recorder(RunObserver):
    """What happened to each cell, in order: (index, status, decision)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, CellStatus, Decision | None]] = []
        self.started: list[int] = []

    def cell_started(self, ctx: RunContext, index: int, cell: Any) -> None:
        self.started.append(index)

    def cell_finished(self, ctx: RunContext, index: int, cell: Any, event: CellEvent) -> None:
        self.events.append((index, event.status, event.decision))


def _context(root: Path, *cells: tuple[str, list[str]]) -> RunContext:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells
    ]
    run = running_run(RunMode.INTERACTIVE)
    (root / ".runbook").mkdir(exist_ok=True)
    return RunContext(run=run, notebook=notebook, repo_root=root, cwd=root)


def _mark(name: str) -> str:
    return f"open({name!r}, 'a').write('x')"


def test_a_confirm_gate_runs_or_skips_the_cell_as_answered(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        (_mark("first"), []),
        (_mark("confirmed"), ["confirm"]),
        (_mark("skipped"), ["confirm"]),
    )
    operator, recorder = ScriptedOperator(Decision.YES, Decision.SKIP), Recorder()
    outcome = execute_run(ctx, operator=operator, observers=[recorder])
    assert outcome.state is RunState.SUCCEEDED
    assert operator.asked == [("confirm", 1), ("confirm", 2)]
    assert recorder.events == [
        (0, CellStatus.SUCCEEDED, None),
        (1, CellStatus.SUCCEEDED, Decision.YES),
        (2, CellStatus.SKIPPED, Decision.SKIP),
    ]
    assert (tmp_path / "confirmed").exists() and not (tmp_path / "skipped").exists()


def test_an_abort_at_a_gate_ends_the_run_before_the_cell(tmp_path: Path) -> None:
    ctx = _context(tmp_path, (_mark("mutated"), ["confirm"]), (_mark("after"), []))
    outcome = execute_run(ctx, operator=ScriptedOperator(Decision.ABORT), observers=[])
    assert outcome.state is RunState.ABORTED
    assert not (tmp_path / "mutated").exists() and not (tmp_path / "after").exists()


def test_a_retried_failure_runs_the_cell_again(tmp_path: Path) -> None:
    flaky = (
        "import os\n"
        "if not os.path.exists('tried'):\n"
        "    open('tried', 'w').close()\n"
        "    raise RuntimeError('not yet')"
    )
    ctx = _context(tmp_path, (flaky, []), (_mark("after"), []))
    operator, recorder = ScriptedOperator(Decision.RETRY), Recorder()
    outcome = execute_run(ctx, operator=operator, observers=[recorder])
    assert outcome.state is RunState.SUCCEEDED
    assert operator.asked == [("failure", 0)]
    assert recorder.started == [0, 0, 1]
    assert (tmp_path / "after").exists()


def test_a_rollback_after_a_failure_runs_the_rollback_cells_only(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        ("raise RuntimeError('broken')", []),
        (_mark("not-reached"), []),
        (_mark("rolled-back"), ["rollback"]),
    )
    outcome = execute_run(ctx, operator=ScriptedOperator(Decision.ROLLBACK), observers=[])
    assert outcome.state is RunState.ROLLED_BACK
    assert (tmp_path / "rolled-back").exists() and not (tmp_path / "not-reached").exists()


def test_a_resume_rebuilds_state_but_never_repeats_a_confirmed_step(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        ("value = 41", []),
        (_mark("mutated"), ["confirm"]),
        ("print(value + 1); " + _mark("resumed"), []),
    )
    recorder = Recorder()
    outcome = execute_run(
        ctx, operator=ScriptedOperator(), observers=[recorder], start_cell=2, rebuild=True
    )
    assert outcome.state is RunState.SUCCEEDED
    assert 0 in recorder.started and 1 not in recorder.started
    assert not (tmp_path / "mutated").exists() and (tmp_path / "resumed").exists()
    assert ctx.notebook.cells[2].outputs[0]["text"] == "42\n"


def _interrupt_when(marker: Path) -> threading.Thread:
    """Send this process a Ctrl-C once the cell has shown it is running (the marker exists)."""

    def send() -> None:
        while not marker.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


_SLEEP_UNTIL_INTERRUPTED = (
    "import os, time\n"
    "if not os.path.exists('interrupted-once'):\n"
    "    open('interrupted-once', 'w').close()\n"
    "    time.sleep(600)\n"
)


@pytest.mark.parametrize(
    ("answer", "state", "after_runs"),
    [
        (Decision.ABORT, RunState.ABORTED, False),
        (Decision.SKIP, RunState.SUCCEEDED, True),
        (Decision.RETRY, RunState.SUCCEEDED, True),
    ],
)
def test_ctrl_c_interrupts_the_cell_and_the_operator_decides_what_next(
    tmp_path: Path, answer: Decision, state: RunState, after_runs: bool
) -> None:
    ctx = _context(tmp_path, (_SLEEP_UNTIL_INTERRUPTED, []), (_mark("after"), []))
    operator, recorder = ScriptedOperator(answer), Recorder()
    sender = _interrupt_when(tmp_path / "interrupted-once")
    outcome = execute_run(ctx, operator=operator, observers=[recorder])
    sender.join()
    assert outcome.state is state
    assert operator.asked == [("interrupt", 0)]
    assert recorder.events[0] == (0, CellStatus.INTERRUPTED, None)
    assert (tmp_path / "after").exists() is after_runs
    expected_starts = [0, 0, 1] if answer is Decision.RETRY else [0, 1] if after_runs else [0]
    assert recorder.started == expected_starts
