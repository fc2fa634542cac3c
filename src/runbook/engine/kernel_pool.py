"""A kernel booted before its run is known, and handed the run once it is.

The service keeps run processes waiting with a booted kernel each
(:mod:`runbook.orchestrate.run_pool`); this module is the kernel's side of it. Such a
kernel is launched exactly as a run's kernel is (:func:`runbook.engine.launch.launch_kernel`:
the same scrubbed environment, its own folder named for the run, Unix sockets), under a run
id chosen at boot. Only two things are not known then: the plan, and whether it is a dry
run. :func:`adopt_kernel` tells them to the kernel before any cell of the plan runs, by
setting ``RUNBOOK_PLAN_ID`` and ``RUNBOOK_DRY_RUN`` in its ``os.environ`` (what the helpers
and every process the notebook starts read): only IPython kernels, whose language we know,
are pooled. ``/proc/<pid>/environ`` of a pooled kernel still shows the values of its boot
(an empty plan id, not a dry run), never anything more.

A pooled kernel serves one run and is then shut down with it: never reused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from jupyter_client.blocking.client import BlockingKernelClient

from runbook.engine.launch import (
    RunKernelManager,
    kernel_environment,
    kernel_folder,
    launch_kernel,
)

#: How long the kernel may take to become ready and to take its run's variables.
READY_SECONDS: Final = 60.0


def boot_kernel(
    repo_root: Path, state_dir: Path, name: str, cwd: Path, run_id: str, user: str = ""
) -> RunKernelManager:
    """Launch kernel ``name`` in ``cwd`` for the run ``run_id``, its plan not known yet."""
    env = kernel_environment(run_id=run_id, plan_id="", repo_root=repo_root, dry_run=False)
    manager: RunKernelManager = launch_kernel(
        name, env=env, cwd=cwd, folder=kernel_folder(state_dir, run_id), user=user
    )
    return manager


def adopt_kernel(manager: RunKernelManager, *, plan_id: str, dry_run: bool) -> bool:
    """Tell a pooled kernel its plan and mode; False when it cannot be (not IPython, or it
    does not answer), and then the caller must not use it."""
    if not manager.ipykernel:
        return False
    told = {"RUNBOOK_PLAN_ID": plan_id, "RUNBOOK_DRY_RUN": "1" if dry_run else "0"}
    client: Any = BlockingKernelClient()
    client.load_connection_info(manager.get_connection_info())
    client.start_channels()
    try:
        client.wait_for_ready(timeout=READY_SECONDS)
        # A literal dict of two strings we made: nothing from the plan becomes code here.
        code = f"import os as _o; _o.environ.update({json.dumps(told)}); del _o"
        reply = client.execute_interactive(
            code, silent=True, store_history=False, allow_stdin=False, timeout=READY_SECONDS
        )
    except (RuntimeError, TimeoutError):
        return False
    finally:
        client.stop_channels()
    if reply.get("content", {}).get("status") != "ok":
        return False
    if manager.runbook_env is not None:
        manager.runbook_env.update(told)
    return True
