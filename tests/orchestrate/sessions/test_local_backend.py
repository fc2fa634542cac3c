"""The local backend with real JupyterLab servers and real git: worktrees per user and
session, rlimits, scrubbed environments, autosave on every kind of stop, and restore."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from runbook.errors import FailureError, UnknownAutosaveError, UnknownSessionError
from runbook.model.repository import Repository
from runbook.model.sessions import SessionState
from runbook.orchestrate.sessions.culler import Culler
from runbook.orchestrate.sessions.local import LocalBackend
from tests.orchestrate.sessions.conftest import (
    START_BOUND,
    git,
    session_settings,
    wait_stopped,
    write_text,
)

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.timeout(4 * START_BOUND)]


def _limits(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {line[:26].strip(): line[26:47].strip() for line in lines}


def test_a_stop_autosaves_and_a_new_session_restores(
    backend: LocalBackend, committed: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", "hunter2")
    record = backend.start("alice", "draft", options={"cpu_seconds": 5000})
    assert record.state is SessionState.RUNNING and record.branch == "session/alice/draft"
    assert record.pid is not None
    # The server's limits, its environment and its command line.
    assert _limits(record.pid)["Max address space"] == str(3072 * 1024 * 1024)
    assert _limits(record.pid)["Max cpu time"] == "5000"
    environ = Path(f"/proc/{record.pid}/environ").read_bytes()
    assert b"hunter2" not in environ and b"RUNBOOK_DB_PASSWORD" not in environ
    _, token = backend.endpoint("alice", "draft")
    assert token.encode() not in Path(f"/proc/{record.pid}/cmdline").read_bytes()
    records = backend.home / "records"
    assert all(token not in p.read_text() for p in records.rglob("*.json"))

    write_text(backend, "alice", "draft", "notes.txt", "typed, never committed\n")
    assert (Path(record.worktree) / "notes.txt").is_file()
    assert not (committed.root / "notes.txt").exists()  # not the repository's own files
    # Another user sees nothing of it, and cannot take the branch it edits.
    with pytest.raises(UnknownSessionError):
        backend.status("bob", "draft")
    with pytest.raises(FailureError, match="already"):
        backend.start("bob", "other", branch="session/alice/draft")

    stopped = backend.stop("alice", "draft")
    assert stopped.state is SessionState.STOPPED and stopped.autosave is not None
    assert not Path(stopped.worktree).exists()
    root = committed.root
    assert git(root, "show", f"{stopped.autosave}:notes.txt") == "typed, never committed"
    # Never on the user's branch.
    assert git(root, "ls-tree", "--name-only", "session/alice/draft", "notes.txt") == ""
    listed = backend.autosaves("alice")
    assert [a.name for a in listed] == [stopped.autosave]
    assert listed[0].branch == "session/alice/draft"
    assert backend.autosaves("bob") == []

    again = backend.start("alice", "draft", restore=True)
    assert again.restored_from == stopped.autosave
    assert (Path(again.worktree) / "notes.txt").read_text() == "typed, never committed\n"
    backend.stop("alice", "draft")

    for autosave in backend.autosaves("alice"):
        backend.delete_autosave("alice", autosave.name)
        assert git(root, "branch", "--list", autosave.name) == ""
    with pytest.raises(UnknownAutosaveError):
        backend.delete_autosave("alice", stopped.autosave)


def test_a_killed_server_is_seen_stopped_and_its_work_autosaved(backend: LocalBackend) -> None:
    record = backend.start("alice", "crash")
    write_text(backend, "alice", "crash", "wip.txt", "half done\n")
    assert record.pid is not None
    os.kill(record.pid, signal.SIGKILL)
    stopped = wait_stopped(backend, "alice", "crash")
    assert "-9" in (stopped.stop_reason or "")
    assert stopped.autosave is not None
    assert git(backend.root, "show", f"{stopped.autosave}:wip.txt") == "half done"


def test_a_restarted_service_sees_its_sessions_stopped_and_autosaves_them(
    backend: LocalBackend, committed: Repository
) -> None:
    record = backend.start("alice", "left")
    write_text(backend, "alice", "left", "left.txt", "still here\n")
    # A second service on the same repository, as after a restart: the first one's
    # server is stopped, its work autosaved.
    restarted = LocalBackend(committed, session_settings(committed))
    seen = restarted.status("alice", "left")
    assert seen.state is SessionState.STOPPED and seen.autosave is not None
    assert git(committed.root, "show", f"{seen.autosave}:left.txt") == "still here"
    assert record.pid is not None
    assert wait_stopped(backend, "alice", "left").autosave == seen.autosave


def test_the_culler_stops_an_idle_session_and_autosaves_it(committed: Repository) -> None:
    settings = session_settings(committed, "cull_interval = 0.2")
    backend = LocalBackend(committed, settings)
    culler = Culler(backend, settings.cull_interval)
    try:
        backend.start("carol", "idle", options={"idle_timeout": 1})
        write_text(backend, "carol", "idle", "idle.txt", "left open\n")
        stopped = wait_stopped(backend, "carol", "idle")
    finally:
        culler.close()
        backend.close()
    assert stopped.stop_reason == "idle for more than 1 s"
    assert git(committed.root, "show", f"{stopped.autosave}:idle.txt") == "left open"
