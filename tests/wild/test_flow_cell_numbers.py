"""One cell numbering: the number the run's screen shows is the one the log, the audit log
and ``--from`` use, and the screen says ``cell i of n``."""

from __future__ import annotations

import json
import os
import re

import pexpect
import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.wild.flow_support import plan_json

pytestmark = pytest.mark.kernel

CELLS = [
    ("markdown", "# Restart the cache", []),
    ("code", "print('looked around')", []),
    ("code", "print('checked')", ["precheck"]),
    ("code", "print('restarting')", ["confirm"]),
    ("code", "print('verified')", ["verify"]),
    ("code", "print('rolled back')", ["rollback"]),
]


def _spawn(repo: Repository, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        RUNBOOK,
        ["run", *args],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )


def test_the_number_on_the_screen_is_the_one_from_log_and_audit_use(
    repo: Repository,
) -> None:
    write_runbook(repo.runbooks_dir / "cache.ipynb", CELLS)
    plan_id = plan_json(repo, "cache")["id"]

    child = _spawn(repo, plan_id, "--as", "dave")
    child.expect(r"cell (\d+) of (\d+)(?:\x1b\[[0-9;]*m)* \[confirm\]")  # styled tag
    shown, total = int(child.match.group(1)), int(child.match.group(2))
    assert (shown, total) == (3, len(CELLS))
    child.expect(r"Run this mutative step\?")
    child.sendline("a")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    first = json.loads(runbook(repo, "runs", "--json").stdout)[0]
    assert first["message"] == f"aborted by dave at cell {shown}"

    # The operator copies the number from the screen and resumes there.
    resumed = runbook(repo, "run", plan_id, "--from", str(shown), "--yes", "--as", "dave")
    assert resumed.returncode == 0, resumed.stderr
    assert f"▶ cell {shown} of {total} [confirm]" in resumed.stdout
    assert f"cell {shown} of {total} succeeded" in resumed.stdout
    run_id = json.loads(runbook(repo, "runs", "--json").stdout)[0]["id"]
    log = json.loads(runbook(repo, "log", run_id, "--json").stdout)
    decided = [c for c in log["cells"] if c["decision"] == "yes"]
    assert [c["cell"] for c in decided] == [shown]
    assert f"▶ cell {shown} [confirm]" in runbook(repo, "log", run_id).stdout
    events = json.loads(runbook(repo, "audit", "log", "--run", run_id, "--json").stdout)
    gates = [e["payload"]["cell"] for e in events if e["kind"] == "cell.decided"]
    assert gates == [shown]


def test_from_takes_a_cell_id_and_a_bad_number_names_the_numbering(repo: Repository) -> None:
    write_runbook(repo.runbooks_dir / "cache.ipynb", CELLS)
    planned = plan_json(repo, "cache")
    cells = json.loads((repo.root / planned["notebook"]).read_text())["cells"]
    by_id = runbook(repo, "run", planned["id"], "--from", cells[4]["id"], "--yes", "--skip-done")
    assert by_id.returncode == 0, by_id.stderr
    assert f"▶ cell 4 of {len(CELLS)} [verify]" in by_id.stdout
    assert "restarting" not in by_id.stdout

    beyond = runbook(repo, "run", planned["id"], "--from", str(len(CELLS)), "--yes")
    assert beyond.returncode == 2 and beyond.stderr.count("\n") == 1
    assert f"cells 0 to {len(CELLS) - 1} (numbered from 0, as the run shows them)" in (
        beyond.stderr
    )
    assert re.search(r"runbook: error: --from 6: ", beyond.stderr)
