"""Starting a kernel early, before the rest of the engine is even imported.

A kernel takes most of a second to boot, in a process of its own. ``runbook run`` launches it
first and then imports, checks policy and opens the store while it boots, so those costs
overlap instead of adding up. This module imports only jupyter_client for that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from runbook.credentials import scrubbed
from runbook.model.notebook_format import DEFAULT_KERNEL

#: Kernel folders live in ``<repository>/.runbook/kernels/<run id>/``.
KERNELS_FOLDER: Final = "kernels"
#: The file of a kernel folder naming the process that owns it (``host:pid``).
OWNER_FILE: Final = "owner"


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
    return name if isinstance(name, str) and name else DEFAULT_KERNEL


def planned_kernel_name(plan_file: Path) -> str | None:
    """The kernelspec a plan file asks for, read cheaply; None if it is not a readable plan."""
    try:
        return kernel_name(json.loads(plan_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return None


class RunKernelManager(AsyncKernelManager):
    """A kernel manager that knows its run's kernel folder and its descriptor of it."""

    runbook_folder: Path | None = None
    runbook_handle: int | None = None


def kernel_folder(state_dir: Path, run_id: str) -> Path:
    """The private folder of a run's kernel: sockets, connection file, bytecode, owner."""
    return state_dir / KERNELS_FOLDER / run_id


async def async_launch_kernel(name: str, *, env: Mapping[str, str], cwd: Path, folder: Path) -> Any:
    """Start a kernel process and return its manager without waiting for it to be ready.

    The kernel talks over Unix sockets in ``folder`` (see :func:`kernel_folder`; absolute
    paths, since the kernel's working directory is the repository), so no TCP port is opened
    and nothing on the network can reach it. The folder is inside the repository's state, not
    the system's temporary folder, and names its owner process, so that the sweep of
    interrupted runs removes it when a ``kill -9`` left it behind.

    The kernel keeps its bytecode in that folder too (``PYTHONPYCACHEPREFIX``), never reading
    a ``__pycache__`` inside the repository: a planted ``.pyc`` whose header matches a
    reviewed module's source would otherwise run instead of it.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700)
    (folder / OWNER_FILE).write_text(f"{socket.gethostname()}:{os.getpid()}", encoding="utf-8")
    # A socket's path is limited to 107 bytes, which a repository's path alone may exceed:
    # both ends reach the folder through a descriptor of it, open in each process at the
    # same number, so the socket paths are short wherever the repository is.
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    manager = RunKernelManager(
        kernel_name=name,
        transport="ipc",
        ip=f"/proc/self/fd/{handle}/k",
        connection_file=str(folder / "connection.json"),
    )
    manager.runbook_folder, manager.runbook_handle = folder, handle
    env = {**env, "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
    try:
        # Piped: what the kernel's children write to its descriptors is masked before it is
        # shown (engine.kernel_output), never inherited raw from our terminal.
        await manager.start_kernel(
            env=env,
            cwd=str(cwd),
            pass_fds=(handle,),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except BaseException:
        remove_sockets(manager)
        raise
    return manager


async def async_discard_kernel(manager: Any) -> None:
    """Stop a launched kernel that will not be used (the run was refused)."""
    await manager.shutdown_kernel(now=True)
    remove_sockets(manager)


def remove_sockets(manager: Any) -> None:
    """Remove a stopped kernel's folder (one launched by :func:`async_launch_kernel`)."""
    folder = getattr(manager, "runbook_folder", None)
    handle = getattr(manager, "runbook_handle", None)
    if isinstance(handle, int):
        manager.runbook_handle = None
        os.close(handle)
    if isinstance(folder, Path):
        shutil.rmtree(folder, ignore_errors=True)


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


launch_kernel = run_sync(async_launch_kernel)
discard_kernel = run_sync(async_discard_kernel)
