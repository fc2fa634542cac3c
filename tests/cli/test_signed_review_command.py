"""`runbook review --key` in a repository that requires signed reviews, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from runbook.config import database_url
from runbook.model.repository import Repository
from tests.builders import restart_runbook
from tests.conftest import Result
from tests.orchestrate.test_signed_reviews import configure, make_keys

Cli = Callable[..., Result]


@pytest.fixture
def planned(repo: Repository, run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no key of the machine's user
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    configure(repo.root, 'require = "all"\nsigned = true')
    make_keys(tmp_path / "keys", repo.root, ("alice", "bob"))
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    planned = run_cli("plan", "restart", "--as", "alice@example.org", "--json")
    assert planned.code == 0, planned.err
    return str(json.loads(planned.out)["id"])


def test_a_signed_approval_makes_the_plan_ready_and_names_the_key(
    run_cli: Cli, planned: str, tmp_path: Path
) -> None:
    key = str(tmp_path / "keys" / "bob")
    done = run_cli("review", planned, "--approve", "--quiet", "--key", key, "--json")
    assert done.code == 0, done.err
    review = json.loads(done.out)
    assert review["reviewer"] == "bob@example.org"
    assert review["identity_kind"] == "ssh-key"
    assert review["signer_key"].startswith("SHA256:")
    assert run_cli("verify", planned).code == 0
    assert run_cli("audit", "verify").code == 0


def test_without_a_key_the_verdict_is_refused_in_one_line(run_cli: Cli, planned: str) -> None:
    done = run_cli("review", planned, "--approve", "--quiet", "--as", "bob@example.org")
    assert done.code == 1
    assert done.err.count("\n") == 1
    assert "requires signed reviews and no SSH key was found" in done.err
    assert run_cli("verify", planned).code == 1


def test_the_planners_key_and_an_unlisted_key_are_refused(
    run_cli: Cli, planned: str, tmp_path: Path
) -> None:
    own = run_cli("review", planned, "--approve", "--quiet", "--key", str(tmp_path / "keys/alice"))
    assert own.code == 1 and "alice@example.org planned it" in own.err
    eve = run_cli("review", planned, "--approve", "--quiet", "--key", str(tmp_path / "keys/eve"))
    assert eve.code == 1 and "not listed in allowed_signers" in eve.err


def test_audit_verify_names_a_signature_edited_in_the_store(
    repo: Repository, run_cli: Cli, planned: str, tmp_path: Path
) -> None:
    key = str(tmp_path / "keys" / "bob")
    assert run_cli("review", planned, "--approve", "--quiet", "--key", key).code == 0
    engine = create_engine(database_url(repo.root))
    with engine.begin() as connection:  # same story in the row and the event? the nonce
        connection.execute(text("UPDATE reviews SET nonce = 'forged'"))
    engine.dispose()
    done = run_cli("audit", "verify")
    assert done.code != 0
    assert "is not a valid approved verdict by bob@example.org" in done.out + done.err
