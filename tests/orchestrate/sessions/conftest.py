"""A committed repository, its sessions settings, a local backend, and JupyterLab's API."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook.model.repository import Repository, find_repository
from runbook.model.sessions import SessionRecord, SessionState
from runbook.model.settings_sessions import SessionSettings, load_session_settings
from runbook.orchestrate.sessions.local import LocalBackend

#: Bound against a hang: a JupyterLab start on a loaded machine takes a while.
START_BOUND = 240


def commit_all(root: Path, message: str = "start") -> None:
    """Commit everything in ``root`` as a test author."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, check=True, env=env)


def git(root: Path, *args: str) -> str:
    """``git ARGS`` in ``root``, stdout stripped (check=False: the caller asserts)."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout.strip()


@pytest.fixture
def committed(repo: Repository) -> Repository:
    """``repo`` with its initial files committed on ``main``."""
    subprocess.run(["git", "checkout", "-qb", "main"], cwd=repo.root, check=True)
    commit_all(repo.root)
    return repo


def session_settings(repo: Repository, table: str = "") -> SessionSettings:
    """The [sessions] settings once ``table`` is appended to runbook.toml."""
    config = repo.root / "runbook.toml"
    if table:
        config.write_text(config.read_text("utf-8") + f"\n[sessions]\n{table}\n", "utf-8")
    return load_session_settings(find_repository(repo.root).root, {})


@pytest.fixture
def backend(committed: Repository) -> Iterator[LocalBackend]:
    """A local backend on the committed repository; closed (autosaving) after the test."""
    sessions = LocalBackend(committed, session_settings(committed, "memory_mb = 3072"))
    yield sessions
    sessions.close()


def contents(backend: LocalBackend, owner: str, name: str) -> Callable[..., object]:
    """A caller of the session's contents API, with its token (as the service's proxy has)."""

    def call(method: str, path: str, body: object | None = None) -> object:
        port, token = backend.endpoint(owner, name)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/sessions/{name}/api/contents/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    return call


def write_text(backend: LocalBackend, owner: str, name: str, path: str, text: str) -> None:
    """Save ``text`` at ``path`` through JupyterLab, as its editor does."""
    contents(backend, owner, name)("PUT", path, {"type": "file", "format": "text", "content": text})


def wait_stopped(backend: LocalBackend, owner: str, name: str) -> SessionRecord:
    """The session once the backend sees it stopped (a state, not a time, is waited on)."""
    deadline = time.monotonic() + START_BOUND
    while time.monotonic() < deadline:
        record = backend.status(owner, name)
        if record.state is SessionState.STOPPED:
            return record
        time.sleep(0.1)
    raise AssertionError(f"{name} never stopped")
