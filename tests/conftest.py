"""Shared fixtures: a fresh repository, a store session on it, and an in-process CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from runbook.config import database_url
from runbook.model.repository import Repository, find_repository
from runbook.orchestrate.initialize import init_repository
from runbook.store.db import ensure_schema, make_engine

# A loaded machine must not fail a property test: no per-example deadline (200 ms by
# default) and no "too slow" health check, both of which measure the machine, not the code.
settings.register_profile("runbook", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("runbook")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's identity, store URL or secrets."""
    for name in list(os.environ):
        if name.startswith(("RUNBOOK_", "AUTOFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("RUNBOOK_SECRETS_DIR", str(tmp_path / "no-secrets"))


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    """A freshly initialised repository in a temporary folder."""
    init_repository(tmp_path / "ops")
    return find_repository(tmp_path / "ops")


@pytest.fixture
def session(repo: Repository) -> Iterator[Session]:
    """A session on the repository's SQLite store."""
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@dataclass
class Result:
    """What a CLI invocation did."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(
    repo: Repository, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    """Run ``runbook ARGS`` in process inside the repository; returns a Result."""
    from runbook.cli import main

    monkeypatch.chdir(repo.root)

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        return Result(code=code, out=captured.out, err=captured.err)

    yield invoke
