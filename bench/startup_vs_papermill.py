"""How fast `runbook` starts: `--help` and `runs` against `papermill --version`.

Usage: .venv/bin/python bench/startup_vs_papermill.py [N]   (default N=20)

Whole processes, interleaved, N each, in a fresh repository with no runs. `papermill
--version` is the cheapest thing papermill does. Targets: `runbook --help` <= 0.5x.
`python -c pass` and `python -S -c pass` (no site-packages) are the floor any Python CLI
starts from.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    commands = {
        "papermill --version": [str(BIN / "papermill"), "--version"],
        "runbook --help": [str(BIN / "runbook"), "--help"],
        "runbook runs": [str(BIN / "runbook"), "runs"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ops"
        subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
        for _ in range(rounds):
            for label, command in commands.items():
                times[label].append(timed(command, root))
    papermill = statistics.median(times["papermill --version"])
    print(f"rounds: {rounds}, whole processes, on {os.cpu_count()} cores")
    for label, measured in times.items():
        median = statistics.median(measured)
        print(f"{label:<20} median {median:.3f} s  ratio {median / papermill:.2f}")
    print("target: runbook --help ratio <= 0.50")


if __name__ == "__main__":
    main()
