"""Starting a kernel early, before the rest of the engine is even imported.

A kernel takes most of a second to boot, in a process of its own. ``runbook run`` launches it
first and then imports, checks policy and opens the store while it boots, so those costs
overlap instead of adding up. This module imports only jupyter_client for that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from runbook.credentials import scrubbed


def kernel_environment(
    *,
    run_id: str,
    plan_id: str,
    repo_root: Path,
    dry_run: bool,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The kernel's environment: ours, minus every credential, plus run context."""
    env = scrubbed(os.environ if base is None else base)
    env.update(
        {
            "RUNBOOK_RUN_ID": run_id,
            "RUNBOOK_PLAN_ID": plan_id,
            "RUNBOOK_REPO": str(repo_root),
            "RUNBOOK_DRY_RUN": "1" if dry_run else "0",
        }
    )
    return env


def kernel_name(notebook: Any) -> str:
    """The notebook's own kernelspec name, python3 when it names none."""
    spec = notebook.get("metadata", {}).get("kernelspec", {})
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"


def planned_kernel_name(plan_file: Path) -> str | None:
    """The kernelspec a plan file asks for, read cheaply; None if it is not a readable plan."""
    try:
        return kernel_name(json.loads(plan_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return None


async def async_launch_kernel(name: str, *, env: Mapping[str, str], cwd: Path) -> Any:
    """Start a kernel process and return its manager without waiting for it to be ready.

    The kernel talks over Unix sockets in a private temporary folder (absolute paths, since
    the kernel's working directory is the repository), so no TCP port is opened and nothing
    on the network can reach it.

    The kernel keeps its bytecode in that folder too (``PYTHONPYCACHEPREFIX``), never reading
    a ``__pycache__`` inside the repository: a planted ``.pyc`` whose header matches a
    reviewed module's source would otherwise run instead of it.
    """
    sockets = Path(tempfile.mkdtemp(prefix="runbook-kernel-"))
    manager = AsyncKernelManager(kernel_name=name, transport="ipc", ip=str(sockets / "k"))
    env = {**env, "PYTHONPYCACHEPREFIX": str(sockets / "pycache")}
    try:
        await manager.start_kernel(env=env, cwd=str(cwd))
    except BaseException:
        shutil.rmtree(sockets, ignore_errors=True)
        raise
    return manager


async def async_discard_kernel(manager: Any) -> None:
    """Stop a launched kernel that will not be used (the run was refused)."""
    await manager.shutdown_kernel(now=True)
    remove_sockets(manager)


def remove_sockets(manager: Any) -> None:
    """Remove a stopped kernel's socket folder."""
    folder = Path(manager.ip).parent
    if folder.name.startswith("runbook-kernel-"):
        shutil.rmtree(folder, ignore_errors=True)


launch_kernel = run_sync(async_launch_kernel)
discard_kernel = run_sync(async_discard_kernel)
