"""`POST /runs` to the first cell output over SSE, against `papermill` to its first output.

Usage: .venv/bin/python bench/api_first_output_vs_papermill.py [N] [POOL]
       (default N=10 repetitions, POOL=2 pooled run processes)

Runbook's side: a real `runbook serve --kernel-pool POOL` process on loopback (port 0), a
token from `runbook token create`, a small notebook planned once (review-free: the default
`runbook init` repository needs no review). Each repetition, with an open keep-alive
connection, times from just before `POST /runs` to the first `event: cell.output` line read
from `GET /runs/{id}/events` (server-sent events), and goes on reading to `run.finished`.
The server is already up and its pool has booted kernels waiting: that is what the service
is for, so its start-up is not in the figure (it is printed once, apart).

papermill's side: `papermill IN OUT --log-output -k python3` as a CLI, a whole process each
time (it has no server, so its first output includes its own start and the kernel's boot:
the cost a user without the service pays). Timed from spawning it to the first line of the
same output on its stderr, and to its exit.

Repetitions interleave the two tools, and after each one the bench waits SETTLE seconds so
that the pool refills (a pooled process serves one run and is replaced; the pool's state is
not visible over HTTP, so the bench waits rather than asks). One unmeasured round first.
Prints medians and the ratio runbook / papermill to the first output (target <= 0.2).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nbformat

BIN = Path(sys.executable).parent
MARK = "first-output-mark"
SETTLE = 3.0


def build(root: Path) -> tuple[Path, str, str]:
    """A repository with one small runbook, planned, and an operator's token:
    (plan notebook, plan id, token secret)."""
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells.append(nbformat.v4.new_code_cell("n = 10", metadata={"tags": ["parameters"]}))
    notebook.cells.append(nbformat.v4.new_code_cell(f"print('{MARK}', n)"))
    for i in range(3):
        notebook.cells.append(nbformat.v4.new_code_cell(f"x{i} = sum(range(n))\nprint(x{i})"))
    nbformat.write(notebook, root / "runbooks" / "bench.ipynb")
    env = {**os.environ, "RUNBOOK_USER": "bench"}
    planned = subprocess.run(
        [BIN / "runbook", "plan", "bench", "--json"],
        cwd=root, check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    plan = json.loads(planned.stdout)
    token = subprocess.run(
        [BIN / "runbook", "token", "create", "--user", "bench", "--role", "operator", "--json"],
        cwd=root, check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return root / plan["notebook"], plan["id"], json.loads(token.stdout)["secret"]


@contextmanager
def serving(root: Path, pool: int) -> Iterator[tuple[str, float]]:
    """`runbook serve --port 0 --kernel-pool POOL` in ``root``: (its URL, seconds to listen)."""
    started = time.perf_counter()
    server = subprocess.Popen(
        [BIN / "runbook", "serve", "--port", "0", "--kernel-pool", str(pool)],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        for line in server.stderr:
            found = re.search(r"Uvicorn running on (http://\S+)", line)
            if found:
                break
        else:
            raise SystemExit(f"runbook serve exited ({server.wait()}) before listening")
        listening = time.perf_counter() - started
        # Keep reading its log so that the pipe never fills up and blocks it.
        drain = subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
        yield found.group(1), listening
    finally:
        server.terminate()
        server.wait(30)
        drain.wait(30)


def api_run(client: httpx.Client, plan_id: str) -> tuple[float, float]:
    """Seconds from POST /runs to the first cell output on its SSE stream, and to its end."""
    started = time.perf_counter()
    posted = client.post("/runs", json={"plan": plan_id})
    posted.raise_for_status()
    run_id = posted.json()["run"]
    first = None
    with client.stream("GET", f"/runs/{run_id}/events") as events:
        for line in events.iter_lines():
            if first is None and line == "event: cell.output":
                first = time.perf_counter() - started
            if line == "event: run.finished":
                break
    if first is None:
        raise SystemExit(f"run {run_id} finished without output")
    return first, time.perf_counter() - started


def papermill_run(notebook: Path, out: Path) -> tuple[float, float]:
    """Seconds from spawning papermill to the first cell output on its stderr, and to exit."""
    started = time.perf_counter()
    command = [BIN / "papermill", notebook, out, "--log-output", "-k", "python3"]
    tool = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    assert tool.stderr is not None
    for line in tool.stderr:
        if first is None and MARK in line:
            first = time.perf_counter() - started
    if tool.wait() != 0 or first is None:
        raise SystemExit(f"papermill failed ({tool.returncode}) or printed no output")
    return first, time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    pool = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ops"
        notebook, plan_id, secret = build(root)
        with serving(root, pool) as (url, listening):
            time.sleep(SETTLE * 2)  # the pool's first kernels boot after the server listens
            headers = {"Authorization": f"Bearer {secret}"}
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for i in range(rounds + 1):
                    measured = api_run(client, plan_id)
                    time.sleep(SETTLE)
                    other = papermill_run(notebook, Path(folder) / f"out-{i}.ipynb")
                    time.sleep(SETTLE)
                    if i:  # round 0 warms caches up
                        ours.append(measured)
                        theirs.append(other)
    cores = os.cpu_count() or 1
    print(f"rounds: {rounds} (5 code cells, kernel pool {pool}, on {cores} cores)")
    print(f"runbook serve: listening after {listening:.3f} s (not in the figures below)")
    rows = (
        ("POST /runs -> first output (SSE)", ours, 0),
        ("POST /runs -> run.finished (SSE)", ours, 1),
        ("papermill CLI -> first output", theirs, 0),
        ("papermill CLI -> exit", theirs, 1),
    )
    for label, data, column in rows:
        values = [row[column] for row in data]
        print(
            f"{label:<34} median {statistics.median(values):.3f} s"
            f"  (min {min(values):.3f}, max {max(values):.3f})"
        )
    first = statistics.median(row[0] for row in ours) / statistics.median(r[0] for r in theirs)
    end = statistics.median(row[1] for row in ours) / statistics.median(r[1] for r in theirs)
    print(f"ratio to first output: {first:.3f} (target <= 0.2); to the end: {end:.3f}")


if __name__ == "__main__":
    main()
