"""Who is acting: ``--as``, else ``RUNBOOK_USER``, else git's ``user.email``, else the OS user."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path


def current_user(
    explicit: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The acting user's name, recorded on every plan and review."""
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get("RUNBOOK_USER"), _git_email(cwd)):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def _git_email(cwd: Path | None) -> str | None:
    try:
        result = subprocess.run(
            ["git", "config", "user.email"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
