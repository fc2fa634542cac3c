"""A run's kernel folder: where it is, who owns it, and sweeping the ones left behind.

Apart from :mod:`runbook.engine.launch` so that commands that only look (``runbook runs``)
sweep without importing jupyter_client.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

#: Kernel folders live in ``<repository>/.runbook/kernels/<run id>/``.
KERNELS_FOLDER: Final = "kernels"
#: The file of a kernel folder naming the process that owns it (``host:pid``).
OWNER_FILE: Final = "owner"


def kernel_folder(state_dir: Path, run_id: str) -> Path:
    """The private folder of a run's kernel: sockets, connection file, bytecode, owner."""
    return state_dir / KERNELS_FOLDER / run_id


def sweep_kernel_folders(state_dir: Path, owner_gone: Callable[[str], bool]) -> list[str]:
    """Remove the kernel folders whose owner process is gone; returns their run ids.

    A folder without an owner file is being created right now (or is not ours): left alone.
    """
    removed = []
    root = state_dir / KERNELS_FOLDER
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            owner = (folder / OWNER_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if owner_gone(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
