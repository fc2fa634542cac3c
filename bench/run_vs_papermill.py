"""`runbook run --yes` against `papermill` on the same 10-code-cell notebook, whole processes.

Usage: .venv/bin/python bench/run_vs_papermill.py [N]   (default N=20)

Both tools run as separate processes, N times each, interleaved so that machine noise hits
both alike. Prints each tool's median and the ratio runbook / papermill (target: <= 1.0).
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


def build(root: Path) -> tuple[Path, str]:
    """A repository with one 10-code-cell runbook, planned; returns (plan file, plan id)."""
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells.append(nbformat.v4.new_code_cell("n = 10", metadata={"tags": ["parameters"]}))
    for i in range(9):
        notebook.cells.append(
            nbformat.v4.new_code_cell(f"x{i} = sum(range(n * {i + 1}))\nprint('step {i}', x{i})")
        )
    nbformat.write(notebook, root / "runbooks" / "bench.ipynb")
    planned = subprocess.run(
        [BIN / "runbook", "plan", "bench", "-p", "n", "1000", "--json"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    plan = json.loads(planned.stdout)
    return root / plan["notebook"], plan["id"]


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "RUNBOOK_USER": "bench"},
    )
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ops"
        plan_file, plan_id = build(root)
        ours, theirs = [], []
        for i in range(rounds):
            ours.append(timed([str(BIN / "runbook"), "run", plan_id, "--yes"], root))
            theirs.append(
                timed(
                    [
                        str(BIN / "papermill"),
                        str(plan_file),
                        str(Path(folder) / f"out-{i}.ipynb"),
                        "--kernel",
                        "python3",
                    ],
                    root,
                )
            )
    mine, papermill = statistics.median(ours), statistics.median(theirs)
    print(f"runs per tool: {rounds} (10 code cells each, whole processes)")
    print(f"runbook run --yes  median {mine:.3f} s  (min {min(ours):.3f}, max {max(ours):.3f})")
    print(
        f"papermill          median {papermill:.3f} s  "
        f"(min {min(theirs):.3f}, max {max(theirs):.3f})"
    )
    print(f"ratio runbook / papermill: {mine / papermill:.2f}  (target <= 1.00)")


if __name__ == "__main__":
    main()
