"""`runbook run` at a real terminal (pexpect), and killed mid-run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pexpect
import pytest

from runbook.model.repository import Repository
from tests.builders import restart_runbook, write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.cli.test_run import plan

pytestmark = pytest.mark.kernel


def spawn(repo: Repository, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        RUNBOOK,
        ["run", *args],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


def last_run(repo: Repository) -> dict[str, object]:
    return json.loads(runbook(repo, "runs", "--json").stdout)[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("answer", "code", "state", "restarted", "rolled_back"),
    [
        ("y", 0, "succeeded", True, False),
        ("s", 1, "failed", False, False),
        ("a", 3, "aborted", False, False),
        ("r", 3, "rolled_back", False, True),
    ],
)
def test_confirm_gate_answers(
    repo: Repository, answer: str, code: int, state: str, restarted: bool, rolled_back: bool
) -> None:
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    child = spawn(repo, plan(repo, "restart"), "--as", "dave")
    child.expect("precheck ok for localhost")
    child.expect(r"Run this mutative step\? \[y\]es / \[s\]kip / \[a\]bort / \[r\]ollback")
    child.sendline(answer)
    if answer == "s":  # the verify cell then fails: nothing was restarted
        child.expect(r"\[r\]etry / \[s\]kip / \[a\]bort / roll\[b\]ack")
        child.sendline("a")
    assert finish(child) == code
    assert (repo.runbooks_dir / "restarted").exists() is restarted
    assert (repo.runbooks_dir / "rolled-back").exists() is rolled_back
    run = last_run(repo)
    assert run["state"] == state and run["mode"] == "interactive" and run["executor"] == "dave"
    if answer == "r":  # the report names who rolled back, and the rollback cells run
        report = (repo.root / f"runs/{run['id']}/report.html").read_text()
        rollbacks = report[report.index('class="rb-rollbacks"') :]
        assert re.search(
            r"<tr><td>4</td><td>[^<]+</td><td>dave</td><td>6 \(succeeded\)</td>", rollbacks
        )


def test_failure_retry_and_manual_acknowledgement(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "retry.ipynb",
        [
            ("markdown", "Announce the maintenance in #ops.", ["manual"]),
            ("code", "from pathlib import Path\nassert Path('ready').exists(), 'not ready'", []),
            ("code", "print('after retry')", []),
        ],
    )
    child = spawn(repo, plan(repo, "retry"))
    child.expect("Announce the maintenance")
    child.expect(r"Done\? \[y\]es, done")
    child.sendline("y")
    child.expect("AssertionError: not ready")
    child.expect(r"\[r\]etry / \[s\]kip")
    (repo.runbooks_dir / "ready").write_text("")
    child.sendline("r")
    child.expect("after retry")
    assert finish(child) == 0
    log = json.loads(runbook(repo, "log", str(last_run(repo)["id"]), "--json").stdout)
    assert [(c["cell"], c["status"], c["decision"]) for c in log["cells"]] == [
        (0, "shown", "acknowledged"),
        (1, "failed", None),
        (1, "succeeded", None),
        (2, "succeeded", None),
    ]


def test_ctrl_c_interrupts_the_cell_and_offers_choices(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "slow.ipynb",
        [
            ("code", "import time\nprint('sleeping', flush=True)\ntime.sleep(60)", []),
            ("code", "print('went on')", []),
        ],
    )
    child = spawn(repo, plan(repo, "slow"))
    child.expect("sleeping")
    time.sleep(0.5)
    child.sendintr()
    child.expect("interrupted")
    child.expect(r"\[r\]etry / \[s\]kip / \[a\]bort / roll\[b\]ack")
    child.sendline("s")
    child.expect("went on")
    assert finish(child) == 0
    # The report keeps the choice made after Ctrl-C, and whose it was.
    run = last_run(repo)
    report = (repo.root / f"runs/{run['id']}/report.html").read_text()
    gates = report[report.index('class="rb-gates"') : report.index("<h3>Rollbacks</h3>")]
    skip = r"<tr><td>0</td><td>[^<]+</td><td>after Ctrl-C</td><td>skipped</td><td>([^<]+)</td>"
    found = re.search(skip, gates)
    assert found and found.group(1) == run["executor"], gates


def test_kill_9_leaves_an_interrupted_run_with_its_cells_so_far(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "long.ipynb",
        [
            ("code", "print('first cell done')", []),
            ("code", "import time\nprint('started', flush=True)\ntime.sleep(120)", []),
        ],
    )
    plan_id = plan(repo, "long")
    process = subprocess.Popen(
        [RUNBOOK, "run", plan_id, "--yes"],
        cwd=repo.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "started" in line:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    runs = json.loads(runbook(repo, "runs", "--json").stdout)
    assert runs[0]["state"] == "interrupted"
    saved = (repo.root / runs[0]["notebook"]).read_text()
    assert "first cell done" in saved


def test_log_follow_streams_a_run_in_progress_from_another_process(repo: Repository) -> None:
    # The run waits in its first cell until the follower has shown that cell's first line,
    # so the follower is streaming a run in progress however slow either process is.
    write_runbook(
        repo.runbooks_dir / "ticking.ipynb",
        [
            (
                "code",
                "import time\nfrom pathlib import Path\nprint('tick 0', flush=True)\n"
                "Path('ticked').touch()\nwhile not Path('go').exists():\n    time.sleep(0.02)\n"
                "print('tick 1', flush=True)\nprint('tick 2', flush=True)",
                [],
            ),
            ("code", "print('last cell')", []),
        ],
    )
    plan_id = plan(repo, "ticking")
    running = subprocess.Popen(
        [RUNBOOK, "run", plan_id, "--yes"],
        cwd=repo.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    follower: subprocess.Popen[str] | None = None
    try:
        while not (repo.runbooks_dir / "ticked").exists():
            assert running.poll() is None, "the run ended before its first cell waited"
            time.sleep(0.02)  # until the kernel has touched it: an event, not a deadline
        (run,) = json.loads(runbook(repo, "runs", "--json", "--state", "running").stdout)
        follower = subprocess.Popen(
            [RUNBOOK, "log", str(run["id"]), "--follow"],
            cwd=repo.root,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stdout is not None
        seen = []
        for line in follower.stdout:
            seen.append(line)
            if "tick 0" in line:
                break
        assert any("tick 0" in line for line in seen), seen
        (repo.runbooks_dir / "go").touch()  # only now may the run go on
        rest, errors = follower.communicate(timeout=120)
    finally:
        (repo.runbooks_dir / "go").touch()
        running.wait(timeout=120)
        if follower is not None and follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0, errors
    out = "".join(seen) + rest
    assert out.index("tick 0") < out.index("tick 1") < out.index("tick 2") < out.index("last cell")
    assert "run succeeded" in out


def test_a_secret_in_an_error_is_masked_at_the_failure_prompt(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "leaky.ipynb",
        [
            ("code", "password = ''", ["parameters"]),
            ("code", "raise RuntimeError('failed with ' + password)", []),
        ],
        parameters={"password": {"type": "str", "secret": True}},
    )
    plan_id = plan(repo, "leaky", "-p", "password", "env:DB_PASSWORD")
    child = pexpect.spawn(
        RUNBOOK,
        ["run", plan_id],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "DB_PASSWORD": "Zq8-terminal-canary"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )
    child.expect(r"failed: RuntimeError: failed with \*\*\*")
    seen = child.before
    child.expect(r"\[r\]etry / \[s\]kip")
    child.sendline("a")
    assert finish(child) == 1
    assert "Zq8-terminal-canary" not in seen + (child.before or "")
