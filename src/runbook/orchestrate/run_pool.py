"""Run processes waiting with a booted kernel, so that a service run starts at once.

Why processes with their kernel, and not kernels handed over: a kernel belongs to the
process that launched it (jupyter_client's manager holds its process, interrupts it,
restarts it, sees it die), and a run must execute in a process of its own (a crashing
kernel never takes the server down). So the pool holds *run processes*
(:mod:`runbook.orchestrate.run_process`), each of which booted its kernel
(:mod:`runbook.engine.kernel_pool`: the same scrubbed environment and kernel folder as any
run's) and imported the engine, and waits for its run. One is taken per run, tells its
kernel the plan, and ends with the run: never reused. The pool starts another in the
background.

A pooled process is booted for a kernelspec and a working directory (the runbooks'
folder, where a plan runs by default). One is taken only when the plan file names both;
and the run process checks again against the verified plan: a kernel that does not fit is
discarded and the right one started (``orchestrate.running``), as for ``runbook run``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from runbook.engine.launch import kernel_name
from runbook.errors import PathEscapeError
from runbook.model.ids import IdKind, is_id, plan_file
from runbook.model.kernelspec import DEFAULT_KERNEL
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.working_dir import kernel_cwd, planned_cwd
from runbook.orchestrate.live_access import authorize_plan
from runbook.orchestrate.live_runs import LiveRun, LiveRunRequest, RunWorker, start_live_run
from runbook.store.artifacts import ArtifactStore

#: Processes kept ready per kernelspec, unless configured otherwise.
DEFAULT_SIZE = 2


class RunPool:
    """Up to ``size`` ready run processes for each of ``kernels``, refilled as taken."""

    def __init__(
        self,
        repository: Repository,
        *,
        size: int = DEFAULT_SIZE,
        kernels: Sequence[str] = (DEFAULT_KERNEL,),
        cwd: Path | None = None,
    ) -> None:
        self._repository = repository
        self._size = size
        self._cwd = cwd or repository.runbooks_dir
        self._ready: dict[str, list[RunWorker]] = {name: [] for name in kernels}
        self._booting: dict[str, int] = dict.fromkeys(kernels, 0)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        for name in kernels:
            self._refill(name)

    def take(self, plan_id: str) -> RunWorker | None:
        """A ready run process fitting the plan file's kernel and folder; None when none is."""
        key = self._fitting(plan_id)
        if key is None:
            return None
        with self._lock:
            ready = self._ready.get(key, [])
            while ready:
                worker = ready.pop(0)
                if worker.process.poll() is None:
                    break
                worker.stop()
            else:
                worker = None
        self._refill(key)
        return worker

    def ready(self, kernel: str = DEFAULT_KERNEL) -> int:
        """How many processes for ``kernel`` are ready now."""
        with self._lock:
            return len(self._ready.get(kernel, []))

    def wait_ready(self, kernel: str = DEFAULT_KERNEL, count: int = 1, timeout: float = 60) -> bool:
        """Wait until ``count`` processes for ``kernel`` are ready; False after ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self._ready.get(kernel, [])) >= count, timeout=timeout
            )

    def health(self) -> str:
        """``ok`` while the pool can hand out processes (some ready or booting, for every
        kernelspec), else what is wrong (closed, or every boot failing)."""
        with self._lock:
            if self._closed:
                return "the run pool is closed"
            empty = [k for k, ready in self._ready.items() if not ready and not self._booting[k]]
        if empty:
            return f"no run process ready or booting for {', '.join(sorted(empty))}"
        return "ok"

    def close(self) -> None:
        """Stop every ready process (and its kernel); the pool starts no more."""
        with self._lock:
            self._closed = True
            workers = [w for ready in self._ready.values() for w in ready]
            for ready in self._ready.values():
                ready.clear()
        for worker in workers:
            worker.stop()

    def _fitting(self, plan_id: str) -> str | None:
        if not is_id(IdKind.PLAN, plan_id):
            return None
        try:
            planned = json.loads(plan_file(self._repository, plan_id).read_text(encoding="utf-8"))
            name = kernel_name(planned)
            cwd = kernel_cwd(self._repository, planned_cwd(planned))
        except (OSError, ValueError, AttributeError, PathEscapeError):
            return None
        if name not in self._ready or cwd.resolve() != self._cwd.resolve():
            return None
        return name

    def _refill(self, kernel: str) -> None:
        with self._lock:
            missing = self._size - len(self._ready[kernel]) - self._booting[kernel]
            if self._closed or missing <= 0:
                return
            self._booting[kernel] += missing
        for _ in range(missing):
            threading.Thread(
                target=self._boot, args=(kernel,), name=f"pool-{kernel}", daemon=True
            ).start()

    def _boot(self, kernel: str) -> None:
        worker: RunWorker | None = None
        try:
            worker = RunWorker(self._repository, kernel, self._cwd)
            message = worker.read()
            booted = message is not None and message.get("ready") is True
        except OSError:
            booted = False
        with self._lock:
            self._booting[kernel] -= 1
            keep = booted and not self._closed and worker is not None
            if keep and worker is not None:
                self._ready[kernel].append(worker)
            self._changed.notify_all()
        if not keep and worker is not None:
            worker.stop()


def start_service_run(
    repository: Repository,
    engine: Engine,
    request: LiveRunRequest,
    pool: RunPool | None = None,
    principal: Principal | None = None,
    artifacts: ArtifactStore | None = None,
) -> LiveRun:
    """Start ``request`` on the store of ``engine``, in a pooled run process when one fits
    (see :func:`runbook.orchestrate.live_runs.start_live_run`), once ``principal`` (when
    given) is seen to be allowed to run the plan's runbook; its files go to ``artifacts``
    when it ends."""
    if principal is not None:
        # Its own short transaction: the run process writes to the store while we wait.
        with Session(engine) as session:
            authorize_plan(session, principal, Permission.RUN, request.plan_id)
    worker = pool.take(request.plan_id) if pool is not None else None
    # The run process opens the same store: its URL, password included, goes on its input.
    url = engine.url.render_as_string(hide_password=False)
    return start_live_run(repository, url, request, worker, artifacts)
