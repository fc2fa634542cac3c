"""`make demo`: the main job end to end on the embedded defaults (SQLite, local kernel).

Builds a repository in .demo/ops, writes a runbook from the default template, plans it as
alice, approves it as bob, runs it on a local Jupyter kernel, shows the record, the report and
the audit chain, shows that tampering with the plan is refused, and says what to try next.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    step("alice runs the approved plan on a local kernel (--yes answers its confirm gate)")
    outcome = json.loads(runbook("run", plan["id"], "--yes", "--as", "alice@example.com", "--json"))
    runbook("log", str(outcome["run"]))
    step("Everything is recorded: runs, a sanitized report, a verifiable audit chain")
    runbook("runs")
    print(f"  report: {DEMO / outcome['reports'][0]}")
    runbook("audit", "verify")
    step("Editing the plan after review voids the approval: the run is refused")
    plan_file = DEMO / plan["notebook"]
    plan_file.write_text(plan_file.read_text().replace("localhost", "prod-db1"))
    runbook("run", plan["id"], "--yes", expect=4)
    runbook("plans")
    print(f"""
Done. The demo repository is {DEMO}. Try next:
  cd {DEMO.relative_to(HERE)}
  ../../.venv/bin/runbook show restart-database        # the runbook, cell by cell
  ../../.venv/bin/runbook plan restart-database        # asks for the host on a terminal
  ../../.venv/bin/runbook review <plan>                # the reviewer's view, with the diff
  ../../.venv/bin/runbook run <plan>                   # interactive: a prompt at every gate
  ../../.venv/bin/runbook workflow --help              # notebook DAGs, schedules, sensors
  ../../.venv/bin/runbook playbook --help              # steps across a fleet, in batches
  ../../.venv/bin/runbook token create --user you@example.com --role admin   # shown once
  ../../.venv/bin/runbook serve                        # the service, on 127.0.0.1:8000
  curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/runs   # the REST API
  open http://127.0.0.1:8000/ui                        # the web pages: sign in with the token
  open http://127.0.0.1:8000/docs                      # every route of the REST API
  ../../.venv/bin/runbook login http://127.0.0.1:8000  # then plan, run, sessions … through it
  ../../.venv/bin/runbook --help                       # every command
  make test                                            # the whole suite
""")


if __name__ == "__main__":
    main()
