"""What a cell costs in a long notebook: `runbook run` on 1, 100 and 1,000 cells, and papermill.

Usage: .venv/bin/python bench/cells_scaling.py [N] [--papermill-1000]   (default N=3)

Every cell is `x = i` and prints nothing, so what is measured is the runner's cost per cell:
the kernel round trip, the store's cell event, the log line, saving the notebook. Reports are
off. The cost of a cell at n cells is (time(n) - time(1 cell)) / (n - 1), medians of N whole
processes, interleaved. Target: the cost at 1,000 cells is within 20 % of the cost at 100.
papermill runs the same notebooks (at 1,000 cells only with --papermill-1000: minutes).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
SIZES = (1, 100, 1000)


def build(root: Path, cells: int) -> tuple[str, Path]:
    """A repository with one runbook of ``cells`` code cells, planned: (plan id, plan file)."""
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    config = root / "runbook.toml"
    config.write_text(config.read_text().replace('formats = ["html"]', "formats = []"))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(cells)]
    nbformat.write(notebook, root / "runbooks" / "long.ipynb")
    planned = subprocess.run(
        [BIN / "runbook", "plan", "long", "--json"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "RUNBOOK_USER": "bench"},
    )
    plan = json.loads(planned.stdout)
    return plan["id"], root / plan["notebook"]


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, check=True, capture_output=True, env={**os.environ, "RUNBOOK_USER": "b"}
    )
    return time.perf_counter() - started


def per_cell(times: dict[int, float], cells: int) -> float:
    """Milliseconds a cell costs at ``cells`` cells, over the one-cell run's fixed costs."""
    return (times[cells] - times[1]) / (cells - 1) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 3
    papermill_sizes = SIZES if "--papermill-1000" in sys.argv else SIZES[:2]
    ours: dict[int, list[float]] = {n: [] for n in SIZES}
    theirs: dict[int, list[float]] = {n: [] for n in papermill_sizes}
    with tempfile.TemporaryDirectory() as folder:
        plans = {n: build(Path(folder) / f"r{n}", n) for n in SIZES}
        for _ in range(rounds):
            for n, (plan_id, plan_file) in plans.items():
                root = Path(folder) / f"r{n}"
                ours[n].append(timed([str(BIN / "runbook"), "run", plan_id, "--yes"], root))
                if n in theirs:
                    out = Path(folder) / f"out-{n}.ipynb"
                    command = [str(BIN / "papermill"), str(plan_file), str(out), "-k", "python3"]
                    theirs[n].append(timed(command, root))
    mine = {n: statistics.median(t) for n, t in ours.items()}
    papermill = {n: statistics.median(t) for n, t in theirs.items()}
    print(f"rounds: {rounds}, whole processes, on {os.cpu_count()} cores; reports off")
    for n in SIZES:
        line = f"{n:>5} cells  runbook {mine[n]:7.3f} s"
        if n in papermill:
            line += f"  papermill {papermill[n]:7.3f} s  ratio {mine[n] / papermill[n]:.2f}"
        print(line)
    at_100, at_1000 = per_cell(mine, 100), per_cell(mine, 1000)
    print(f"runbook per cell: {at_100:.1f} ms at 100 cells, {at_1000:.1f} ms at 1,000")
    print(f"ratio 1,000 / 100: {at_1000 / at_100:.2f} (target <= 1.20)")
    if 1000 in papermill:
        print(f"papermill per cell at 1,000: {per_cell(papermill, 1000):.1f} ms")


if __name__ == "__main__":
    main()
