"""Two repositories on one PostgreSQL store stand for two workstations of a team.

Alice plans in her clone; Bob, in his own clone of the same git repository, reviews the
plan (diff included), approves and runs it. No file goes from one folder to the other but
through git (the runbook) and the store (the plan).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook.model.repository import Repository, find_repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook

pytestmark = [pytest.mark.postgres, pytest.mark.kernel]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def store() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database both workstations are configured with."""
    name = f"runbook_team_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Alice", "-c", "user.email=alice@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def _init(folder: Path, store: str) -> Repository:
    done = subprocess.run(
        [RUNBOOK, "init", str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNBOOK_DB_URL": store},
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return find_repository(folder)


@pytest.fixture
def workstations(tmp_path: Path, store: str) -> tuple[Repository, Repository]:
    """Alice's repository with a critical runbook committed, and Bob's clone of it."""
    alice = _init(tmp_path / "alice" / "ops", store)
    write_runbook(
        alice.runbooks_dir / "restart.ipynb",
        [
            ("markdown", "# Restart\nRestarts the service on one host.", []),
            ("code", "host = 'localhost'", ["parameters"]),
            (
                "code",
                "from pathlib import Path\nPath('restarted').write_text(host)\n"
                "print('restarted', host)",
                ["confirm"],
            ),
        ],
        parameters={"host": {"type": "str", "required": True}},
        tags=["critical"],
    )
    _git(alice.root, "add", "-A")
    _git(alice.root, "commit", "--quiet", "-m", "restart runbook")
    _git(tmp_path, "clone", "--quiet", str(alice.root), str(tmp_path / "bob" / "ops"))
    bob = _init(tmp_path / "bob" / "ops", store)
    return alice, bob


def _plan_as_alice(alice: Repository, store: str) -> subprocess.CompletedProcess[str]:
    return runbook(
        alice, "plan", "restart", "-p", "host", "db1", "--as", "alice", "--json",
        RUNBOOK_DB_URL=store,
    )  # fmt: skip


def test_alice_plans_on_one_workstation_and_bob_reviews_and_runs_on_another(
    workstations: tuple[Repository, Repository], store: str
) -> None:
    alice, bob = workstations
    planned = _plan_as_alice(alice, store)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    written = (alice.root / plan["notebook"]).read_bytes()
    assert not (bob.root / plan["notebook"]).exists()  # only the store has it on Bob's side

    listed = runbook(bob, "plans", "--json", RUNBOOK_DB_URL=store)
    assert listed.returncode == 0, listed.stderr
    assert [(p["id"], p["status"]) for p in json.loads(listed.stdout)] == [
        (plan["id"], "awaiting-review")
    ]

    reviewed = runbook(bob, "review", plan["id"], "--approve", "--as", "bob", RUNBOOK_DB_URL=store)
    assert reviewed.returncode == 0, reviewed.stderr
    assert "Changes against the source runbook" in reviewed.stdout
    assert "+host = 'db1'" in reviewed.stdout  # the injected value, as a diff line
    assert "source runbook unavailable" not in reviewed.stdout
    assert f"bob approved plan {plan['id']}" in reviewed.stdout
    assert (bob.root / plan["notebook"]).read_bytes() == written  # the cache, from the store

    verified = runbook(bob, "verify", plan["id"], RUNBOOK_DB_URL=store)
    assert verified.returncode == 0, verified.stderr
    ran = runbook(bob, "run", plan["id"], "--yes", "--as", "bob", "--json", RUNBOOK_DB_URL=store)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["state"] == "succeeded"
    assert (bob.runbooks_dir / "restarted").read_text() == "db1"
    assert not (alice.runbooks_dir / "restarted").exists()

    # Alice's workstation sees Bob's review and run through the same store.
    shown = runbook(alice, "show-plan", plan["id"], "--json", RUNBOOK_DB_URL=store)
    assert [r["reviewer"] for r in json.loads(shown.stdout)["reviews"]] == ["bob"]
    runs = runbook(alice, "runs", "--json", RUNBOOK_DB_URL=store)
    assert [(r["state"], r["executor"]) for r in json.loads(runs.stdout)] == [("succeeded", "bob")]


def test_a_tampered_stored_plan_is_refused_in_one_line_on_every_workstation(
    workstations: tuple[Repository, Repository], store: str
) -> None:
    alice, bob = workstations
    planned = _plan_as_alice(alice, store)
    plan_id = json.loads(planned.stdout)["id"]
    approved = runbook(
        bob, "review", plan_id, "--approve", "--quiet", "--as", "bob", RUNBOOK_DB_URL=store
    )
    assert approved.returncode == 0, approved.stderr
    # Someone with write access to the database changes what the plan will run.
    with psycopg.connect(store) as connection:
        connection.execute(
            "UPDATE plan_notebooks SET notebook = convert_to(replace(convert_from("
            "notebook, 'UTF8'), 'db1', 'prod-db1'), 'UTF8') WHERE plan_id = %s",
            (plan_id,),
        )
    for repo in (bob, alice):  # Bob's cache is intact, Alice's file too: the store is the truth
        refused = runbook(repo, "run", plan_id, "--yes", "--as", "bob", RUNBOOK_DB_URL=store)
        assert refused.returncode == 4, refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert f"plan {plan_id}: its notebook in the store was modified after planning" in (
            refused.stderr
        )
        verified = runbook(repo, "verify", plan_id, RUNBOOK_DB_URL=store)
        assert verified.returncode == 1 and verified.stderr.count("\n") == 1
        assert "its notebook in the store was modified after planning" in verified.stderr
        listed = runbook(repo, "plans", "--json", RUNBOOK_DB_URL=store)
        assert [p["status"] for p in json.loads(listed.stdout)] == ["modified"]
    assert not (bob.runbooks_dir / "restarted").exists()
