"""`runbook workflow run` against papermill running the same notebooks one after another.

Usage: .venv/bin/python bench/workflow_vs_papermill.py [N]   (default N=5)

The workflow: four independent notebooks that each glue a value, and a fifth that reads
all four (AutoFlow's shape: data in, report out). AutoFlow executes such a DAG notebook by
notebook with papermill; the papermill figure is that: five papermill executions in a
row, each in its own kernel, within one Python process (papermill's API, as AutoFlow calls
it). runbook runs the whole workflow as one process, each task a full Runbook run (plan,
record, audit, lease) with independent tasks in parallel (max_parallel 4), reports off.
Prints medians and the ratio runbook / papermill.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
WORKFLOW = """
workflows:
  - name: fan_in
    notebooks:
      a: {filename: part.ipynb, parameters: {label: reference_date}}
      b: {filename: part.ipynb, parameters: {label: reference_date}}
      c: {filename: part.ipynb, parameters: {label: reference_date}}
      d: {filename: part.ipynb, parameters: {label: reference_date}}
      report:
        filename: report.ipynb
        parameters: {a: a, b: b, c: c, d: d}
"""
PAPERMILL = """
import sys, papermill
folder, out = sys.argv[1], sys.argv[2]
paths = []
for key in "abcd":
    path = f"{out}/{key}.ipynb"
    papermill.execute_notebook(f"{folder}/part.ipynb", path, parameters={"label": key},
                               progress_bar=False)
    paths.append(path)
papermill.execute_notebook(f"{folder}/report.ipynb", f"{out}/report.ipynb",
                           parameters=dict(zip("abcd", paths)), progress_bar=False)
"""


def notebook(path: Path, parameters: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, path)


def build(root: Path) -> Path:
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    config = root / "runbook.toml"
    config.write_text(config.read_text().replace('formats = ["html"]', "formats = []"))
    folder = root / "workflows"
    (folder / "fan_in.yml").write_text(WORKFLOW)
    notebook(
        folder / "part.ipynb",
        "label = ''",
        "import scrapbook as sb\nsb.glue('total', sum(range(10**6)))",
    )
    notebook(
        folder / "report.ipynb",
        "a = b = c = d = ''",
        "import scrapbook as sb\n"
        "print(sum(sb.read_notebook(p).scraps['total'].data for p in (a, b, c, d)))",
    )
    return folder


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, check=True, capture_output=True, env={**os.environ, "RUNBOOK_USER": "b"}
    )
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ops"
        folder = build(root)
        out = Path(tmp) / "papermill-out"
        out.mkdir()
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(timed([str(BIN / "runbook"), "workflow", "run", "fan_in"], root))
            theirs.append(
                timed([sys.executable, "-c", PAPERMILL, str(folder), str(out)], Path(tmp))
            )
    mine, peer = statistics.median(ours), statistics.median(theirs)
    print(f"cores: {os.cpu_count()}, rounds: {rounds}")
    print(f"papermill, 5 notebooks in a row: {peer:.3f} s")
    print(f"runbook workflow run (5 runs, parallel 4): {mine:.3f} s  ratio {mine / peer:.2f}")


if __name__ == "__main__":
    main()
