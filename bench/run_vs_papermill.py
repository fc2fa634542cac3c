"""`runbook run --yes` against `papermill` on the same 10-code-cell notebook, whole processes.

Usage: .venv/bin/python bench/run_vs_papermill.py [N]   (default N=20)

Both tools run as separate processes, N times each, interleaved so that machine noise hits
both alike. runbook runs twice per round: with its default configuration, which also renders
an HTML report after every run, and with reports off, which is the same work papermill does
(execute, save the notebook) plus Runbook's record, audit chain and lease. Prints medians
and the ratios runbook / papermill (target: <= 1.0).
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
        default_root = Path(folder) / "ops"
        bare_root = Path(folder) / "bare"
        plan_file, plan_id = build(default_root)
        _, bare_plan = build(bare_root)
        config = bare_root / "runbook.toml"
        config.write_text(config.read_text().replace('formats = ["html"]', "formats = []"))
        default, bare, theirs = [], [], []
        for i in range(rounds):
            default.append(timed([str(BIN / "runbook"), "run", plan_id, "--yes"], default_root))
            bare.append(timed([str(BIN / "runbook"), "run", bare_plan, "--yes"], bare_root))
            theirs.append(
                timed(
                    [
                        str(BIN / "papermill"),
                        str(plan_file),
                        str(Path(folder) / f"out-{i}.ipynb"),
                        "--kernel",
                        "python3",
                    ],
                    default_root,
                )
            )
    papermill = statistics.median(theirs)
    print(f"rounds: {rounds} (10 code cells each, whole processes, on {os.cpu_count()} cores)")
    print(
        f"papermill                      median {papermill:.3f} s  "
        f"(min {min(theirs):.3f}, max {max(theirs):.3f})"
    )
    for label, times in (
        ("runbook run --yes, no report", bare),
        ("runbook run --yes, default", default),
    ):
        median = statistics.median(times)
        print(
            f"{label:<30} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f})"
            f"  ratio {median / papermill:.2f}"
        )
    print("target: ratio <= 1.00")


if __name__ == "__main__":
    main()
