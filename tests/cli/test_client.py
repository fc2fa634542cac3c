"""The CLI as a client of a real `runbook serve` on loopback: login, plan, review (claimed
and SSH-signed), a run through a real terminal with its gate answered through the API, and
errors printed and exited as locally."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from runbook.model.repository import Repository
from tests.builders import restart_runbook
from tests.cli.process import RUNBOOK
from tests.orchestrate.test_signed_reviews import configure, make_keys

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

STARTED = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass
class Served:
    """The repository, the server's URL, each user's config folder, and every output seen."""

    repo: Repository
    url: str
    tmp: Path
    secrets: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def env(self, who: str | None) -> dict[str, str]:
        """The environment of ``who``'s CLI: its own config folder (none: not logged in)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
        env |= {"XDG_CONFIG_HOME": str(self.tmp / f"config-{who or 'nobody'}"), "NO_COLOR": "1"}
        return env

    def cli(self, who: str | None, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`runbook ARGS` as ``who``, from a folder outside the repository when remote."""
        cwd = self.tmp if who else self.repo.root
        done = subprocess.run(
            [RUNBOOK, *args],
            cwd=cwd,
            env=self.env(who),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        self.seen += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done


@pytest.fixture
def served(repo: Repository, tmp_path: Path) -> Iterator[Served]:
    """`runbook serve` on the repository (SQLite store), alice (operator) and bob (reviewer)
    logged in with tokens the CLI created."""
    configure(repo.root, 'require = "all"')
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
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
        for who, role in (("alice", "operator"), ("bob", "reviewer")):
            user = f"{who}@example.org"
            created = made.cli(None, "token", "create", "--user", user, "--role", role, "--json")
            assert created.returncode == 0, created.stderr
            made.seen.pop(-2)  # `token create` shows the secret once, by design
            made.secrets[who] = json.loads(created.stdout)["secret"]
            login = made.cli(who, "login", made.url, "--token-stdin", stdin=made.secrets[who])
            assert login.returncode == 0, login.stderr
        yield made
    finally:
        server.terminate()
        server.communicate(timeout=60)
    for secret in made.secrets.values():  # the token is never printed by any command
        assert all(secret not in text for text in made.seen)


def test_login_keeps_the_token_0600_and_whoami_names_the_user(served: Served) -> None:
    path = served.tmp / "config-alice" / "runbook" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    me = served.cli("alice", "whoami", "--json")
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["user"] == "alice@example.org"
    assert "alice@example.org on http://127.0.0.1" in served.cli("alice", "whoami").stdout
    wrong = served.cli("carol", "login", served.url, "--token-stdin", stdin="rb_not-a-token\n")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert not (served.tmp / "config-carol" / "runbook" / "credentials.json").exists()
    refused = served.cli("alice", "plan", "restart", "--as", "mallory")
    assert refused.returncode == 2
    assert f"identity comes from your token on {served.url}" in refused.stderr
    assert served.cli("alice", "logout").returncode == 0
    assert "not logged in to any server" in served.cli("alice", "whoami").stderr


def test_plan_review_and_errors_as_locally(served: Served, tmp_path: Path) -> None:
    planned = served.cli("alice", "plan", "restart", "-p", "host", "db1", "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["planned_by"] == "alice@example.org" and plan["parameters"] == {"host": "db1"}
    text = served.cli("alice", "plan", "restart")
    assert "Review required: a second person runs `runbook review" in text.stdout
    listed = json.loads(served.cli("bob", "plans", "--json").stdout)
    assert plan["id"] in [row["id"] for row in listed]

    # Unapproved: refused as locally (exit 4, the same one line).
    remote = served.cli("alice", "run", plan["id"], "--yes")
    local = served.cli(None, "run", plan["id"], "--yes", "--as", "alice@example.org")
    assert (remote.returncode, remote.stderr) == (local.returncode, local.stderr)
    assert remote.returncode == 4 and remote.stderr.count("\n") == 1
    # No such plan: exit 2, the same one line.
    remote = served.cli("alice", "run", "p-nope")
    local = served.cli(None, "run", "p-nope")
    assert (remote.returncode, remote.stderr) == (2, local.stderr) and local.returncode == 2
    # The planner may not review: refused as locally.
    own = served.cli("alice", "review", plan["id"], "--approve")
    assert own.returncode == 1 and "Permission" not in own.stderr

    reviewed = served.cli("bob", "review", plan["id"], "--approve", "--json")
    assert reviewed.returncode == 0, reviewed.stderr
    review = json.loads(reviewed.stdout)
    # Proven by bob's token, not claimed with --as: the record says how.
    assert (review["reviewer"], review["identity_kind"]) == ("bob@example.org", "token")

    # A verdict signed here with bob's own SSH key, checked by the server.
    keys = make_keys(tmp_path / "keys", served.repo.root, ("alice", "bob"))
    second = json.loads(served.cli("alice", "plan", "restart", "--json").stdout)
    key = str(keys.folder / "bob")
    signed = served.cli("bob", "review", second["id"], "--approve", "--key", key)
    assert signed.returncode == 0, signed.stderr
    assert f"bob@example.org approved plan {second['id']}" in signed.stdout
    assert "signed by SHA256:" in signed.stdout


def test_a_run_at_a_terminal_answers_its_gate_through_the_server(served: Served) -> None:
    plan = json.loads(served.cli("alice", "plan", "restart", "--json").stdout)["id"]
    assert served.cli("bob", "review", plan, "--approve").returncode == 0
    child = pexpect.spawn(
        RUNBOOK,
        ["run", plan],
        cwd=str(served.tmp),
        env=served.env("alice"),
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 120),
    )
    child.expect("precheck ok for localhost")
    child.expect(r"Run this mutative step\? \[y\]es / \[s\]kip / \[a\]bort / \[r\]ollback")
    child.sendline("y")
    child.expect("restarted localhost")
    child.expect("run succeeded")
    child.expect(pexpect.EOF)
    served.seen.append(child.before or "")
    child.close()
    assert child.exitstatus == 0
    runs = json.loads(served.cli("alice", "runs", "--json").stdout)
    assert (runs[0]["plan"], runs[0]["state"]) == (plan, "succeeded")
    assert runs[0]["executor"] == "alice@example.org"
    log = served.cli("bob", "log", runs[0]["id"])
    assert "yes by alice@example.org" in log.stdout and "run succeeded" in log.stdout
    # --yes answers the gate without a person, as locally.
    again = json.loads(served.cli("alice", "plan", "restart", "--json").stdout)["id"]
    assert served.cli("bob", "review", again, "--approve").returncode == 0
    done = served.cli("alice", "run", again, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "succeeded"
