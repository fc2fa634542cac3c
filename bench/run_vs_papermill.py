"""`runbook run --yes` against `papermill` on the same 10-code-cell notebook, whole processes.

Usage: .venv/bin/python bench/run_vs_papermill.py [N]   (default N=20)

Both tools run as separate processes, N times each, interleaved so that machine noise hits
both alike. runbook runs twice per round: with its default configuration, which also renders
an HTML report after every run, and with reports off, which is the same work papermill does
(execute, save the notebook) plus Runbook's record, audit chain and lease. Prints medians
and the ratios runbook / papermill (targets: <= 0.8 with the report, <= 1.0 without), and
each tool's CPU time (its process and every process it started: the kernel, the report
worker; the bench adopts what a tool leaves behind, so a kernel papermill does not wait for
counts too), which bounds how fast it can be on this many cores. One unmeasured round first:
a repository's first run compiles the kernel's shared bytecode.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
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


def become_subreaper() -> None:
    """Adopt the processes our commands leave behind (a kernel a tool did not wait for),
    so that their CPU time is counted too (Linux ``PR_SET_CHILD_SUBREAPER``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock seconds of one run, and its CPU seconds (user + system) with every
    process it started, waited for or not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        check=True,
        capture_output=True,
        env={**os.environ, "RUNBOOK_USER": "bench"},
    )
    wall = time.perf_counter() - started
    while True:  # the orphans it left, now ours: wait for them to exit
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    become_subreaper()
    with tempfile.TemporaryDirectory() as folder:
        default_root = Path(folder) / "ops"
        bare_root = Path(folder) / "bare"
        plan_file, plan_id = build(default_root)
        _, bare_plan = build(bare_root)
        config = bare_root / "runbook.toml"
        config.write_text(config.read_text().replace('formats = ["html"]', "formats = []"))
        commands = {
            "default": ([str(BIN / "runbook"), "run", plan_id, "--yes"], default_root),
            "bare": ([str(BIN / "runbook"), "run", bare_plan, "--yes"], bare_root),
        }
        times: dict[str, list[tuple[float, float]]] = {"default": [], "bare": [], "papermill": []}
        for i in range(rounds + 1):
            out = str(Path(folder) / f"out-{i}.ipynb")
            papermill = [str(BIN / "papermill"), str(plan_file), out, "--kernel", "python3"]
            commands["papermill"] = (papermill, default_root)
            for name, (command, cwd) in commands.items():
                measured = timed(command, cwd)
                if i:  # round 0 warms the bytecode caches up
                    times[name].append(measured)
    cores = os.cpu_count() or 1
    theirs = statistics.median(wall for wall, _ in times["papermill"])
    print(f"rounds: {rounds} (10 code cells each, whole processes, on {cores} cores)")
    for label, name in (
        ("papermill", "papermill"),
        ("runbook run --yes, no report", "bare"),
        ("runbook run --yes, default", "default"),
    ):
        walls = [wall for wall, _ in times[name]]
        median = statistics.median(walls)
        cpu = statistics.median(c for _, c in times[name])
        print(
            f"{label:<30} median {median:.3f} s  (min {min(walls):.3f}, max {max(walls):.3f})"
            f"  ratio {median / theirs:.2f}  CPU {cpu:.3f} s (floor on {cores} cores:"
            f" ratio {cpu / cores / theirs:.2f})"
        )
    print("targets: default <= 0.80, no report <= 1.00")


if __name__ == "__main__":
    main()
