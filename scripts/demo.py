"""`make demo`: the main job end to end on the embedded defaults (SQLite, local kernel).

Builds a repository in .demo/ops, writes a runbook from the default template, plans it as
alice, approves it as bob, shows what tampering does, executes the approved plan on a local
Jupyter kernel, and says what to try next.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent.parent
DEMO = HERE / ".demo" / "ops"
RUNBOOK = str(Path(sys.executable).with_name("runbook"))


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def runbook(*args: str, expect: int = 0) -> str:
    print(f"$ runbook {' '.join(args)}", flush=True)
    result = subprocess.run(
        [RUNBOOK, *args],
        cwd=DEMO,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "GIT_AUTHOR_NAME": "demo"},
    )
    print(result.stdout + result.stderr, end="", flush=True)
    if result.returncode != expect:
        sys.exit(f"demo: `runbook {' '.join(args)}` exited {result.returncode}, expected {expect}")
    return result.stdout


def main() -> None:
    shutil.rmtree(DEMO.parent, ignore_errors=True)
    DEMO.mkdir(parents=True)
    step("A new repository")
    runbook("init")
    (DEMO / "runbook.toml").write_text(
        (DEMO / "runbook.toml").read_text().replace('require = "tagged"', 'require = "all"')
    )
    step("A runbook from the default template, linted")
    runbook("create", "Restart database", "--as", "alice@example.com")
    runbook("check", "restart-database")
    step("alice plans it for host db1")
    plan = json.loads(
        runbook(
            "plan",
            "restart-database",
            "-p",
            "host",
            "localhost",
            "--as",
            "alice@example.com",
            "--json",
        )
    )
    runbook("verify", plan["id"], expect=1)
    step("alice may not approve her own plan; bob reviews and approves")
    runbook("review", plan["id"], "--approve", "--as", "alice@example.com", expect=1)
    runbook(
        "review",
        plan["id"],
        "--approve",
        "--quiet",
        "--as",
        "bob@example.com",
        "-m",
        "checked the host",
    )
    runbook("verify", plan["id"])
    step("The approved plan executes on a local Jupyter kernel")
    plan_file = DEMO / plan["notebook"]
    notebook = nbformat.read(plan_file, as_version=4)
    # Plain nbclient has no rollback semantics (`runbook run` will): leave those cells out.
    notebook.cells = [c for c in notebook.cells if "rollback" not in c.metadata.get("tags", [])]
    nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(DEMO)}}
    ).execute()
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            if text:
                tags = ", ".join(cell.metadata.get("tags", [])) or "cell"
                print(f"  [{tags}] {text.strip()}")
    step("Editing the plan after review voids the approval")
    plan_file.write_text(plan_file.read_text().replace("localhost", "prod-db1"))
    runbook("verify", plan["id"], expect=1)
    runbook("plans")
    print(f"""
Done. The demo repository is {DEMO}. Try next:
  cd {DEMO.relative_to(HERE)}
  ../../.venv/bin/runbook show restart-database        # the runbook, cell by cell
  ../../.venv/bin/runbook plan restart-database        # asks for the host on a terminal
  ../../.venv/bin/runbook review <plan>                # the reviewer's view, with the diff
  ../../.venv/bin/runbook --help                       # every command
  make test                                            # the whole suite
""")


if __name__ == "__main__":
    main()
