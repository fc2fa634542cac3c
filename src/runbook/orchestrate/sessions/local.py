"""The local sessions backend: one JupyterLab child process per session, on loopback.

Each session's server serves its own git worktree (:mod:`.worktrees`) under the base URL
``/sessions/<name>/``, behind a token only this process knows, with the store's credentials
scrubbed from its environment and rlimits from the session's options. A stop, for whatever
reason (the owner, the culler, the service stopping, the server dying), autosaves first.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.errors import AlreadyExistsError, ParameterError, UnknownSessionError
from runbook.model.identity import identity_key
from runbook.model.repository import Repository
from runbook.model.sessions import (
    SessionRecord,
    SessionState,
    check_session_name,
    choose_options,
    options_offered,
    session_branch,
    user_slug,
)
from runbook.model.settings_sessions import SessionSettings
from runbook.orchestrate.sessions import worktrees
from runbook.orchestrate.sessions.lab import LOG_LINES, LabServer
from runbook.orchestrate.sessions.records import SessionRecords

_MIB = 1024 * 1024


#: Named outside the classes, whose ``list`` method hides the builtin there.
Records = list[SessionRecord]
Autosaves = list[worktrees.Autosave]
Lines = list[str]


class LocalBackend:
    """Sessions of ``repository`` as child processes; records under its state folder."""

    def __init__(self, repository: Repository, settings: SessionSettings) -> None:
        """Load the records; a session a previous service left behind is stopped now."""
        self.root = repository.root
        self.settings = settings
        self.home = repository.state_dir / "sessions"
        self.records = SessionRecords(self.home / "records")
        self._servers: dict[tuple[str, str], LabServer] = {}
        self._lock = threading.RLock()
        for record in self.records.all():
            if record.state is not SessionState.STOPPED:
                self._finish(record, "its service stopped before it did")

    def options(self) -> dict[str, dict[str, int]]:
        """What may be chosen, with defaults and limits."""
        return options_offered(self.settings)

    def start(
        self,
        owner: str,
        name: str,
        *,
        branch: str | None = None,
        runbook: str | None = None,
        options: dict[str, Any] | None = None,
        restore: bool = False,
    ) -> SessionRecord:
        """Start ``owner``'s session ``name`` on ``branch`` (default ``session/<user>/<name>``);
        with ``restore``, the newest autosave of that branch is brought back uncommitted."""
        check_session_name(name)
        chosen = choose_options(self.settings, options)
        key = identity_key(owner)
        edited = worktrees.check_branch(self.root, branch or session_branch(owner, name))
        with self._lock:
            known = self.records.get(key, name)
            if known is not None and known.state is not SessionState.STOPPED:
                raise AlreadyExistsError(f"session {name}")
            path = self.home / "worktrees" / user_slug(key) / name
            worktrees.remove_worktree(self.root, path)  # a stale one (nothing in it is lost:
            worktrees.add_worktree(self.root, path, edited)  # it was autosaved at its stop)
            restored = self._restore(owner, edited, path) if restore else None
            log = self._log_path(key, name)
            log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            log.write_text("", encoding="utf-8")
            server = LabServer(
                path,
                0,
                base_url=f"/sessions/{name}/",
                limits=(chosen.memory_mb * _MIB, chosen.cpu_seconds),
                log=log,
            )
            record = SessionRecord(
                name=name,
                owner=owner,
                owner_key=key,
                branch=edited,
                worktree=str(path),
                options=chosen,
                state=SessionState.STARTING,
                started_at=datetime.now(UTC),
                pid=server.process.pid,
                restored_from=restored,
                runbook=runbook,
            )
            self.records.save(record)
            self._servers[(key, name)] = server
        try:
            server.wait_ready()
        except BaseException:
            self.stop(owner, name, "it did not start: " + server.last_error)
            raise
        with self._lock:
            record = replace(record, state=SessionState.RUNNING, port=server.port)
            self.records.save(record)
        return record

    def _restore(self, owner: str, branch: str, path: Path) -> str | None:
        newest = next((a for a in self.autosaves(owner) if a.branch == branch), None)
        if newest is not None:
            worktrees.restore(path, newest.name)
        return newest.name if newest else None

    def _log_path(self, key: str, name: str) -> Path:
        return self.home / "logs" / user_slug(key) / f"{name}.log"

    def _record(self, owner: str, name: str) -> SessionRecord:
        valid = _valid_name(name)
        record = self.records.get(identity_key(owner), name) if valid else None
        if record is None:
            raise UnknownSessionError(name)
        return record

    def stop(self, owner: str, name: str, reason: str = "stopped by its owner") -> SessionRecord:
        """Stop ``owner``'s session ``name`` and autosave it; a stopped one is returned as is."""
        with self._lock:
            record = self._record(owner, name)
            if record.state is SessionState.STOPPED:
                return record
            return self._finish(record, reason)

    def _finish(self, record: SessionRecord, reason: str) -> SessionRecord:
        """Stop the server (or what is left of it), autosave, remove the worktree, record."""
        server = self._servers.pop((record.owner_key, record.name), None)
        latest = self.records.get(record.owner_key, record.name)
        if latest is not None and latest.state is SessionState.STOPPED:
            # Another service on this repository stopped it already (and autosaved).
            if server is not None:
                server.stop()
            return latest
        if server is not None:
            server.stop()
            # Its kernels share its process group; a server killed hard leaves them behind.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(server.process.pid, signal.SIGKILL)
        elif record.pid is not None:
            _kill_left_behind(record.pid, record.worktree)
        path = Path(record.worktree)
        now = datetime.now(UTC)
        saved = worktrees.autosave(path, record.owner, record.name, record.branch, now)
        worktrees.remove_worktree(self.root, path)
        stopped = record.stopped(reason, now, saved)
        self.records.save(stopped)
        return stopped

    def list(self, owner: str | None = None) -> Records:
        """``owner``'s sessions (everyone's with None), a dead server's seen as stopped."""
        self.reap()
        key = identity_key(owner) if owner is not None else None
        return [r for r in self.records.all() if key is None or r.owner_key == key]

    def status(self, owner: str, name: str) -> SessionRecord:
        """One of ``owner``'s sessions as it is now."""
        self.reap()
        return self._record(owner, name)

    def logs(self, owner: str, name: str) -> Lines:
        """The last lines of the session's server log, token masked."""
        record = self._record(owner, name)
        path = self._log_path(record.owner_key, record.name)
        with suppress(OSError), path.open(encoding="utf-8", errors="replace") as stream:
            return list(deque(stream.read().splitlines(), maxlen=LOG_LINES))
        return []

    def autosaves(self, owner: str) -> Autosaves:
        """``owner``'s autosaves, newest first."""
        return worktrees.autosaves(self.root, owner)

    def delete_autosave(self, owner: str, name: str) -> None:
        """Delete one of ``owner``'s autosaves (its branch)."""
        worktrees.delete_autosave(self.root, owner, name)

    def endpoint(self, owner: str, name: str) -> tuple[int, str]:
        """The port and token of ``owner``'s running session, for the service's proxy."""
        with self._lock:
            record = self._record(owner, name)
            server = self._servers.get((record.owner_key, name))
            if server is None or record.state is not SessionState.RUNNING:
                raise UnknownSessionError(name)
            return server.port, server.token

    def reap(self) -> Records:
        """Stop and autosave every session whose server exited on its own."""
        with self._lock:
            dead = [(k, s) for k, s in self._servers.items() if s.process.poll() is not None]
            stopped = []
            for (key, name), server in dead:
                record = self.records.get(key, name)
                if record is not None:
                    reason = f"its server exited with code {server.process.returncode}"
                    stopped.append(self._finish(record, reason))
            return stopped

    def cull(self) -> Records:
        """One round of the culler: dead servers, then sessions idle past their timeout."""
        stopped = self.reap()
        now = datetime.now(UTC)
        with self._lock:
            running = list(self._servers.items())
        for (key, name), server in running:
            record = self.records.get(key, name)
            idle = _idle_seconds(server, now)
            if record is not None and idle is not None and idle > record.options.idle_timeout:
                reason = f"idle for more than {record.options.idle_timeout} s"
                with self._lock:
                    if (key, name) in self._servers:
                        stopped.append(self._finish(record, reason))
        return stopped

    def close(self) -> None:
        """Stop every running session, autosaving each (the service is stopping)."""
        with self._lock:
            for key, name in list(self._servers):
                record = self.records.get(key, name)
                if record is not None:
                    self._finish(record, "the service stopped")


def _valid_name(name: str) -> bool:
    try:
        check_session_name(name)
    except ParameterError:
        return False
    return True


def _idle_seconds(server: LabServer, now: datetime) -> float | None:
    status = server.status()
    last = status.get("last_activity") if status else None
    if not isinstance(last, str):
        return None
    try:
        return (now - datetime.fromisoformat(last)).total_seconds()
    except ValueError:
        return None


def _kill_left_behind(pid: int, worktree: str) -> None:
    """Kill the server a previous service started, if ``pid`` is still that server (its
    command line names the worktree) and not a process that got the number since."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return
    if f"--ServerApp.root_dir={worktree}" in command.split("\x00"):
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
