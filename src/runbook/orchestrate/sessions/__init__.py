"""Editing sessions: JupyterLab servers on git worktrees, behind a backend interface.

``lab`` runs one server; ``worktrees`` and ``autosave`` keep each session's files apart and
its uncommitted work safe; ``records`` remembers sessions across restarts; ``local`` is the
default backend (child processes on loopback) and ``backend`` the interface it implements.
"""

from __future__ import annotations

from runbook.orchestrate.sessions.lab import LabServer

__all__ = ["LabServer"]
