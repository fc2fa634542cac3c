"""The executed notebook is saved as the run goes, at a bounded rate, and never goes stale."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat

from runbook.engine.hooks import AutosaveObserver, RunContext
from runbook.model.run import CellEvent, CellStatus, RunMode, RunState
from tests.builders import running_run


def _context(root: Path, cells: int) -> RunContext:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(cells)]
    run = running_run(RunMode.AUTOMATIC)
    (root / "runs" / "r-1").mkdir(parents=True)
    return RunContext(run=run, notebook=notebook, repo_root=root)


def _finish(observer: AutosaveObserver, ctx: RunContext, index: int) -> None:
    cell = ctx.notebook.cells[index]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {index}\n")]
    event = CellEvent(
        run_id="r-1",
        cell_index=index,
        cell_id=None,
        cell_type="code",
        tags=(),
        status=CellStatus.SUCCEEDED,
    )
    observer.cell_finished(ctx, index, cell, event)


def _saved_outputs(ctx: RunContext) -> list[str]:
    saved = json.loads(ctx.notebook_file.read_text())
    return [o["text"] for c in saved["cells"] for o in c.get("outputs", [])]


def test_cells_finished_faster_than_saving_pays_are_saved_together(tmp_path: Path) -> None:
    ctx = _context(tmp_path, 50)
    # Saving may take a vanishing share of the time: after the first save, none is due.
    observer = AutosaveObserver(share=1e-9, most_stale=3600)

    async def run() -> None:
        observer.run_started(ctx)
        for index in range(50):
            _finish(observer, ctx, index)
        assert _saved_outputs(ctx) == []  # not rewritten 50 times
        observer.run_finished(ctx, RunState.SUCCEEDED, None)

    asyncio.run(run())
    assert _saved_outputs(ctx) == [f"out {i}\n" for i in range(50)]


def test_a_put_off_save_happens_while_the_next_cell_runs(tmp_path: Path) -> None:
    ctx = _context(tmp_path, 2)
    observer = AutosaveObserver(share=1e-9, most_stale=0.05)

    async def run() -> None:
        observer.run_started(ctx)
        _finish(observer, ctx, 0)  # put off: the last save was a moment ago
        # Cell 1 runs for as long as it takes: the timer saves cell 0 meanwhile.
        while _saved_outputs(ctx) != ["out 0\n"]:
            await asyncio.sleep(0.01)
        observer.run_finished(ctx, RunState.SUCCEEDED, None)

    asyncio.run(asyncio.wait_for(run(), timeout=60))
