"""What a sessions backend does: the interface the service and the CLI use.

The local backend (:mod:`runbook.orchestrate.sessions.local`) is the default; another (a
cluster's) would implement the same methods. ``owner`` is always the user as given; the
backend compares users by their identity key.
"""

from __future__ import annotations

from typing import Any, Protocol

from runbook.model.sessions import SessionRecord
from runbook.orchestrate.sessions.worktrees import Autosave

#: Named outside the classes, whose ``list`` method hides the builtin there.
Records = list[SessionRecord]
Autosaves = list[Autosave]
Lines = list[str]


class SessionBackend(Protocol):
    """Start, stop, list, look at and autosave editing sessions."""

    def options(self) -> dict[str, dict[str, int]]:
        """What may be chosen, with defaults and limits."""

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
        """Start a session; ParameterError for options beyond the limits."""

    def stop(self, owner: str, name: str, reason: str = "stopped by its owner") -> SessionRecord:
        """Stop a session, autosaving its uncommitted work."""

    def list(self, owner: str | None = None) -> Records:
        """``owner``'s sessions (every session with None)."""

    def status(self, owner: str, name: str) -> SessionRecord:
        """One session as it is now; UnknownSessionError when ``owner`` has none so named."""

    def logs(self, owner: str, name: str) -> Lines:
        """The last lines of a session's server log, its token masked."""

    def autosaves(self, owner: str) -> Autosaves:
        """``owner``'s autosaves, newest first."""

    def delete_autosave(self, owner: str, name: str) -> None:
        """Delete one of ``owner``'s autosaves."""

    def endpoint(self, owner: str, name: str) -> tuple[int, str]:
        """The loopback port and token of ``owner``'s running session, for the proxy."""

    def close(self) -> None:
        """Stop every session (the service is stopping), autosaving each."""
