"""``runbook workflow …`` and ``runbook playbook …`` as clients of a real `runbook serve`:
the same output (text and JSON) and exit codes as the same commands on the store itself,
and the identity of the token, not of the machine."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK
from tests.cli.test_client import STARTED, Served
from tests.cli.test_playbook_command import write
from tests.cli.test_workflow_command import two_step_inputs

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

ALICE = "alice@example.org"


@pytest.fixture
def served(repo: Repository, tmp_path: Path) -> Iterator[Served]:
    """`runbook serve` on the repository (SQLite store), alice (operator) logged in."""
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0", "--kernel-pool", "0"],
        cwd=repo.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    try:
        for line in server.stderr:  # wait on the startup line, however long it takes
            match = STARTED.search(line)
            if match:
                break
        else:
            pytest.fail("runbook serve ended before it listened")
        made = Served(repo, match.group(1), tmp_path)
        created = made.cli(None, "token", "create", "--user", ALICE, "--role", "operator",
                           "--json")  # fmt: skip
        assert created.returncode == 0, created.stderr
        made.seen.pop(-2)  # `token create` shows the secret once, by design
        made.secrets["alice"] = json.loads(created.stdout)["secret"]
        login = made.cli("alice", "login", made.url, "--token-stdin", stdin=made.secrets["alice"])
        assert login.returncode == 0, login.stderr
        yield made
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert all(made.secrets["alice"] not in text for text in made.seen)


def _same(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ARGS remotely (as alice) and locally: same exit code, output and error."""
    remote = served.cli("alice", *args)
    local = served.cli(None, *args)
    assert (remote.returncode, remote.stdout, remote.stderr) == (
        local.returncode,
        local.stdout,
        local.stderr,
    ), args
    return remote


def test_workflow_commands_through_the_server(served: Served) -> None:
    two_step_inputs(served.repo, "print(upstream)")
    listed = _same(served, "workflow", "list", "--json")
    assert [w["name"] for w in json.loads(listed.stdout)["workflows"]] == ["pair"]
    _same(served, "workflow", "list")

    ran = served.cli("alice", "workflow", "run", "pair", "-p", "greeting", "hi", "--date",
                     "2016-01-07", "--json")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert (run["state"], run["started_by"]) == ("succeeded", ALICE)
    assert [(t["key"], t["state"]) for t in run["tasks"]] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
    ]
    assert run["reference_date"] == "2016-01-07" and run["parameters"] == {"greeting": "hi"}
    text = served.cli("alice", "workflow", "run", "pair")
    assert text.returncode == 0, text.stderr
    assert "first: succeeded" in text.stderr and "details: runbook workflow show" in text.stdout

    _same(served, "workflow", "runs", "--json")
    _same(served, "workflow", "runs", "pair")
    _same(served, "workflow", "show", run["id"])
    _same(served, "workflow", "show", run["id"], "--json")
    missing = _same(served, "workflow", "show", "wf-20260101-000000-abcd")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    unknown = served.cli("alice", "workflow", "run", "nope")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1

    resumed = served.cli("alice", "workflow", "resume", run["id"], "--json")
    local = served.cli(None, "workflow", "resume", run["id"], "--json")
    assert resumed.returncode == local.returncode, (resumed.stderr, local.stderr)
    if resumed.returncode == 0:
        assert json.loads(resumed.stdout)["resumed_from"] == run["id"]
        assert json.loads(resumed.stdout)["started_by"] == ALICE
    refused = served.cli("alice", "workflow", "run", "pair", "--as", "mallory")
    assert refused.returncode == 2 and "identity comes from your token" in refused.stderr


def test_playbook_commands_through_the_server(served: Served) -> None:
    path = write(served.repo)
    assert served.cli(None, "playbook", "import", path).returncode == 0
    _same(served, "playbook", "list", "--json")
    _same(served, "playbook", "list")

    planned = served.cli("alice", "playbook", "plan", "web", "-p", "reason", "drill", "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert (plan["playbook"], plan["planned_by"]) == ("web", ALICE)
    assert plan["parameters"] == {"reason": "drill"}
    text = served.cli("alice", "playbook", "plan", "web")
    assert text.returncode == 0 and text.stdout.startswith("Planned ")

    (served.repo.root / "fail-web3").write_text("")  # the check fails on web3
    failed = served.cli("alice", "playbook", "run", "web", "--json")
    assert failed.returncode == 1, failed.stderr
    run = json.loads(failed.stdout)
    assert (run["state"], run["started_by"]) == ("failed", ALICE)
    states = {t["name"]: t["state"] for t in run["targets"]}
    assert states["web3"] == "FAILED" and states["web1"] == "SUCCEEDED"
    _same(served, "playbook", "status", run["id"])
    _same(served, "playbook", "status", run["id"], "--json")
    _same(served, "playbook", "runs", "--json")
    _same(served, "playbook", "runs", "web")
    ended = _same(served, "playbook", "cancel", run["id"])
    assert ended.returncode == 1 and ended.stderr.count("\n") == 1

    (served.repo.root / "fail-web3").unlink()
    retried = served.cli("alice", "playbook", "retry", run["id"], "--failed")
    assert retried.returncode == 0, retried.stderr
    assert "succeeded" in retried.stdout and "details: runbook playbook status" in retried.stdout
    newest = json.loads(served.cli("alice", "playbook", "runs", "--json").stdout)[0]
    assert (newest["retry_of"], newest["started_by"]) == (run["id"], ALICE)
    watched = served.cli("alice", "playbook", "status", newest["id"], "--watch")
    assert watched.returncode == 0, watched.stderr
    unknown = _same(served, "playbook", "status", "pb-20260101-000000-abcd")
    assert unknown.returncode == 2
