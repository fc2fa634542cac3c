"""The installed `runbook` command, run as a real process in a test repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runbook.model.repository import Repository

RUNBOOK = str(Path(sys.executable).with_name("runbook"))


def runbook(repo: Repository, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `runbook ARGS` in the repository, with no terminal, extra environment ``env``."""
    return subprocess.run(
        [RUNBOOK, *args],
        cwd=repo.root,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
