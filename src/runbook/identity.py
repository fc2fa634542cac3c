"""Who is acting: ``--as``, else ``RUNBOOK_USER``, else git's ``user.email``, else the OS user."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from runbook.model.identity import check_identity


def current_user(
    explicit: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The acting user's name, recorded on every plan and review.

    Raises :class:`runbook.errors.IdentityError` when the chosen name is empty (``--as ''``)
    or not printable; a blank ``RUNBOOK_USER`` or git email counts as unset.
    """
    if explicit is not None:
        return check_identity(explicit, "--as")
    env = os.environ if environ is None else environ
    for where, candidate in (
        ("RUNBOOK_USER", env.get("RUNBOOK_USER")),
        ("git user.email", _git_email(cwd)),
    ):
        if candidate and candidate.strip():
            return check_identity(candidate, where)
    try:
        return check_identity(getpass.getuser(), "the OS user name")
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
