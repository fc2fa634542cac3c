"""``runbook sessions`` against a real ``runbook serve``: start, list, logs, stop with an
autosave of what was written through the server's proxy, and the autosave deleted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK
from tests.cli.test_client import STARTED, Served
from tests.orchestrate.sessions.conftest import commit_all, git

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def served(repo: Repository, tmp_path: Path) -> Iterator[Served]:
    """`runbook serve` on a committed repository, alice (operator) logged in."""
    subprocess.run(["git", "checkout", "-qb", "main"], cwd=repo.root, check=True)
    commit_all(repo.root)
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
        user = "alice@example.org"
        created = made.cli(None, "token", "create", "--user", user, "--role", "operator", "--json")
        made.seen.pop(-2)  # `token create` shows the secret once, by design
        made.secrets["alice"] = json.loads(created.stdout)["secret"]
        login = made.cli("alice", "login", made.url, "--token-stdin", stdin=made.secrets["alice"])
        assert login.returncode == 0, login.stderr
        yield made
    finally:
        server.terminate()
        server.communicate(timeout=120)


def test_sessions_from_the_terminal(served: Served) -> None:
    refused = served.cli("alice", "sessions", "start", "draft", "--memory-mb", "999999")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "'memory_mb'" in refused.stderr and "above the limit" in refused.stderr

    started = served.cli("alice", "sessions", "start", "draft", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["state"] == "running"
    listed = served.cli("alice", "sessions", "list")
    assert listed.returncode == 0 and "draft  running" in listed.stdout

    bearer = {"Authorization": f"Bearer {served.secrets['alice']}"}
    saved = httpx.put(
        f"{served.url}/sessions/draft/api/contents/cli.txt",
        json={"type": "file", "format": "text", "content": "from the terminal\n"},
        headers=bearer,
        timeout=60,
    )
    assert saved.status_code == 201, saved.text
    logs = served.cli("alice", "sessions", "logs", "draft")
    assert logs.returncode == 0 and logs.stdout.strip()

    stopped = served.cli("alice", "sessions", "stop", "draft", "--json")
    assert stopped.returncode == 0, stopped.stderr
    autosave = json.loads(stopped.stdout)["autosave"]
    assert autosave.startswith("autosave/alice")
    assert git(served.repo.root, "show", f"{autosave}:cli.txt") == "from the terminal"
    assert autosave in served.cli("alice", "sessions", "autosaves").stdout
    deleted = served.cli("alice", "sessions", "autosaves", "--delete", autosave)
    assert deleted.returncode == 0, deleted.stderr
    assert git(served.repo.root, "branch", "--list", autosave) == ""

    nobody = served.cli("bob", "sessions", "list")
    assert nobody.returncode != 0 and nobody.stderr.count("\n") == 1
