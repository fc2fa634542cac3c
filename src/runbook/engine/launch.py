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
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from runbook.credentials import scrubbed
from runbook.engine import bytecode
from runbook.engine.kernel_folders import OWNER_FILE
from runbook.engine.kernel_folders import kernel_folder as kernel_folder
from runbook.engine.kernel_user import KernelUser, kernel_user, launch_failure
from runbook.model.kernelspec import DEFAULT_KERNEL
from runbook.typing import Notebook

if TYPE_CHECKING:
    from runbook.model.repository import Repository

#: The kernel's bytecode, in its kernel folder (see :mod:`runbook.engine.bytecode`).
PYCACHE: Final = "pycache"
#: The kernel's connection file, in its kernel folder.
CONNECTION_FILE: Final = "connection.json"
#: What nbclient passes to an IPython kernel: its history in memory, never a
#: ``history.sqlite`` written (and locked) by every run.
IPYTHON_ARGUMENTS: Final = ("--HistoryManager.hist_file=:memory:",)


def kernel_environment(
    *,
    run_id: str,
    plan_id: str,
    repo_root: Path,
    dry_run: bool,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The kernel's environment: ours, minus every credential, plus run context.

    A relative ``PYTHONPATH`` entry is made absolute from the repository's root, wherever
    the kernel runs: it names the folder the plan's module manifest bound.
    """
    env = scrubbed(os.environ if base is None else base)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            str(repo_root / entry) if entry and not os.path.isabs(entry) else entry
            for entry in env["PYTHONPATH"].split(os.pathsep)
        )
    env.update(
        {
            "RUNBOOK_RUN_ID": run_id,
            "RUNBOOK_PLAN_ID": plan_id,
            "RUNBOOK_REPO": str(repo_root),
            "RUNBOOK_DRY_RUN": "1" if dry_run else "0",
        }
    )
    return env


def kernel_name(notebook: Notebook) -> str:
    """The notebook's own kernelspec name, python3 when it names none."""
    spec = notebook.get("metadata", {}).get("kernelspec", {})
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else DEFAULT_KERNEL


def launch_for_plan(
    repository: Repository, plan_text: str, *, run_id: str, plan_id: str, dry_run: bool
) -> RunKernelManager | None:
    """Boot the kernel a plan file's text asks for, in the working directory it records.

    The text is parsed cheaply, before any check: None (nothing launched) when it cannot say
    which kernel or folder, and the checks that follow say why. A kernel launched here runs
    nothing until they pass; ``orchestrate.running`` starts another if the verified plan
    asks for a different kernel or folder.
    """
    from runbook.errors import PathEscapeError
    from runbook.model.working_dir import kernel_cwd, planned_cwd

    try:
        planned = json.loads(plan_text)
        if "playbook" in planned["metadata"]["runbook"]["plan"]:
            return None  # a playbook's plan runs its steps' kernels, not one of its own
        name = kernel_name(planned)
        cwd = kernel_cwd(repository, planned_cwd(planned))
    except (OSError, ValueError, AttributeError, KeyError, TypeError, PathEscapeError):
        return None
    env = kernel_environment(
        run_id=run_id, plan_id=plan_id, repo_root=repository.root, dry_run=dry_run
    )
    folder = kernel_folder(repository.state_dir, run_id)
    try:
        manager: RunKernelManager = launch_kernel(
            name, env=env, cwd=cwd, folder=folder, user=repository.config.kernel_user
        )
    except Exception:  # e.g. no such kernelspec: the engine reports it with the run
        return None
    return manager


class RunKernelManager(AsyncKernelManager):
    """A kernel manager that knows its run's kernel folder and its descriptor of it."""

    runbook_folder: Path | None = None
    runbook_handle: int | None = None
    runbook_user: KernelUser | None = None
    runbook_cwd: Path | None = None
    #: The environment it was launched with (before its bytecode folder), built once per run.
    runbook_env: dict[str, str] | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command, naming the connection file through the folder's descriptor.

        jupyter_client resolves the path to the real one, which leads through folders a
        kernel of another user may not enter.
        """
        real = os.path.realpath(self.connection_file)
        command = super().format_kernel_cmd(extra_arguments)
        return [part.replace(real, self.connection_file) for part in command]

    def write_connection_file(self, **kwargs: Any) -> None:
        """Write the connection file, readable by the kernel's own user when it has one."""
        super().write_connection_file(**kwargs)
        if self.runbook_user is not None and self.runbook_folder is not None:
            self.runbook_user.hand_over(self.runbook_folder / CONNECTION_FILE)


async def async_launch_kernel(
    name: str, *, env: Mapping[str, str], cwd: Path, folder: Path, user: str = ""
) -> Any:
    """Start a kernel process and return its manager without waiting for it to be ready.

    The kernel starts in ``cwd`` (the plan's working directory, see
    :mod:`runbook.model.working_dir`) and talks over Unix sockets in ``folder`` (see
    :func:`kernel_folder`), so no TCP port is opened and nothing on the network can reach
    it. The folder is inside the repository's state, not the system's temporary folder, and
    names its owner process, so that the sweep of interrupted runs removes it when a
    ``kill -9`` left it behind.

    The kernel keeps its bytecode in that folder too (``PYTHONPYCACHEPREFIX``), never reading
    a ``__pycache__`` inside the repository: a planted ``.pyc`` whose header matches a
    reviewed module's source would otherwise run instead of it. An IPython kernel keeps its
    history in memory (:data:`IPYTHON_ARGUMENTS`), as under nbclient and papermill.

    With ``user`` (``[kernel] user``) the kernel runs as that OS user (see
    :mod:`runbook.engine.kernel_user`): the folder becomes its own, and the rest of the
    repository's state is closed to others.
    """
    account = kernel_user(user)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if account is not None:
        _close_to_others(folder.parent.parent)
    folder.mkdir(mode=0o700)
    (folder / OWNER_FILE).write_text(f"{socket.gethostname()}:{os.getpid()}", encoding="utf-8")
    # A socket's path is limited to 107 bytes, which a repository's path alone may exceed:
    # both ends reach the folder through a descriptor of it, open in each process at the
    # same number, so the paths are short wherever the repository is, and the kernel needs
    # no access to the folders above its own.
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    manager = RunKernelManager(
        kernel_name=name,
        transport="ipc",
        ip=f"/proc/self/fd/{handle}/k",
        connection_file=f"/proc/self/fd/{handle}/{CONNECTION_FILE}",
    )
    manager.runbook_folder, manager.runbook_handle = folder, handle
    manager.runbook_cwd = cwd
    manager.runbook_env = dict(env)
    state_dir = folder.parent.parent
    bytecode.seed(folder / PYCACHE, state_dir, state_dir.parent)
    env = {**env, "PYTHONPYCACHEPREFIX": f"/proc/self/fd/{handle}/{PYCACHE}"}
    # Bytecode goes to the kernel's own folder, never next to a source: write it there.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    as_user: dict[str, Any] = {}
    if account is not None:
        account.hand_over(folder)
        manager.runbook_user = account
        env.update(account.environment(folder))
        as_user = account.process_arguments()
    try:
        # Piped: what the kernel's children write to its descriptors is masked before it is
        # shown (engine.kernel_output), never inherited raw from our terminal.
        await manager.start_kernel(
            env=env,
            cwd=str(cwd),
            extra_arguments=list(IPYTHON_ARGUMENTS) if manager.ipykernel else [],
            pass_fds=(handle,),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **as_user,
        )
    except PermissionError as error:
        remove_sockets(manager)
        if account is None:
            raise
        raise launch_failure(account, error) from None
    except BaseException:
        remove_sockets(manager)
        raise
    return manager


def _close_to_others(state_dir: Path) -> None:
    """Take others' access to the repository's state away (the store, plans, anchors)."""
    mode = stat.S_IMODE(state_dir.stat().st_mode)
    if mode & 0o007:
        state_dir.chmod(mode & ~0o007)


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
        state_dir = folder.parent.parent
        bytecode.adopt(folder / PYCACHE, state_dir, state_dir.parent)
        shutil.rmtree(folder, ignore_errors=True)


launch_kernel = run_sync(async_launch_kernel)
discard_kernel = run_sync(async_discard_kernel)
