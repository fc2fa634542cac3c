"""One step on one target: a shell command as an asyncio subprocess, or a runbook run.

Shell steps are the cheap path: no kernel and no thread per target, only a child process
watched by the event loop. A runbook step is planned with the target's values (with the
runbook's own type coercion) and run like ``runbook run --yes`` or without ``--yes``, in a
worker thread with a kernel of its own.

Every step ends as a result mapping, the JSON kept in the target's record::

    {"step": "health", "kind": "shell", "status": "failed", "exit_code": 7,
     "duration": 0.12, "output": "…last 2,000 characters…", "message": "exited with 7"}

``status`` is ``succeeded``, ``failed`` or ``cancelled`` (stopped by ``cancel --interrupt``);
rollbacks add ``"phase": "rollback"`` and may be ``not_done`` (see :func:`runbook_rollback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from runbook.credentials import scrubbed
from runbook.errors import RunbookError
from runbook.model.playbooks.playbook_templates import RenderedStep
from runbook.model.run import Decision, RunState
from runbook.typing import Cell

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from runbook.model.repository import Repository

OUTPUT_TAIL: Final = 2000
#: How long a killed step's process group has to exit on SIGTERM before SIGKILL.
KILL_GRACE: Final = 5.0

Result = dict[str, Any]


def base_environment(run_id: str, repo_root: Path) -> dict[str, str]:
    """The environment of every shell step of a run, before the target's own variables."""
    # The credentials are kept from shell steps as from kernels: the same list.
    env = scrubbed(os.environ)
    env.update({"RUNBOOK_PLAYBOOK_RUN": run_id, "RUNBOOK_REPO": str(repo_root)})
    return env


@dataclass
class ShellControl:
    """The processes of running shell steps, so that a cancel can kill them."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)

    def kill_all(self) -> None:
        """SIGTERM every running step's process group; SIGKILL what is left after a grace."""
        loop = asyncio.get_running_loop()
        for key, process in list(self.processes.items()):
            self.killed.add(key)
            _signal_group(process, signal.SIGTERM)
            loop.call_later(KILL_GRACE, _signal_group, process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # Each step leads its own session: the group holds what `sh -c` started too.
        os.killpg(process.pid, sig)


async def run_shell(
    key: str,
    step: RenderedStep,
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    control: ShellControl,
) -> Result:
    """Run ``argv`` (the step's command or its rollback) and describe how it ended."""
    started = time.monotonic()
    result: Result = {"step": step.name, "kind": "shell"}
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as error:
        reason = error.strerror or str(error)
        return {**result, "status": "failed", "message": f"cannot run {argv[0]}: {reason}"}
    control.processes[key] = process
    child = _Child(process)
    timed_out = False
    try:
        await asyncio.wait_for(child.finished(), timeout=step.timeout)
    except TimeoutError:
        timed_out = True
        _signal_group(process, signal.SIGKILL)
        # A grandchild that left the group may keep the output open: do not wait for it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.finished(), KILL_GRACE)
    finally:
        child.close()
        control.processes.pop(key, None)
    code = process.returncode
    result.update(
        exit_code=code,
        duration=round(time.monotonic() - started, 3),
        output=child.output.decode("utf-8", errors="replace")[-OUTPUT_TAIL:],
    )
    if key in control.killed:
        control.killed.discard(key)
        if code != 0:
            return {**result, "status": "cancelled", "message": "killed by cancel --interrupt"}
    if timed_out:
        return {**result, "status": "failed", "message": f"timed out after {step.timeout:g} s"}
    if code == 0:
        return {**result, "status": "succeeded"}
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with {code}"
    return {**result, "status": "failed", "message": how}


class _Child:
    """A child process watched by the running event loop, with no thread.

    Its output is read as it comes (keeping the tail) and its exit is seen through a pidfd
    (Linux 5.3+); elsewhere the exit is polled. asyncio's own subprocesses would, on Python
    3.11, start a thread per child to wait for it.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.output = bytearray()
        self._loop = asyncio.get_running_loop()
        self._eof = self._loop.create_future()
        self._exited = self._loop.create_future()
        assert process.stdout is not None  # noqa: S101 - opened with stdout=PIPE
        self._fd = process.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._loop.add_reader(self._fd, self._read)
        self._pidfd: int | None = None
        self._poller: asyncio.Task[None] | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):  # e.g. refused by a sandbox: poll instead
                self._pidfd = os.pidfd_open(process.pid)
                self._loop.add_reader(self._pidfd, self._reap)
        if self._pidfd is None:
            self._poller = self._loop.create_task(self._poll())

    async def finished(self) -> None:
        """Wait for the process to exit and its output to end."""
        await asyncio.gather(asyncio.shield(self._exited), asyncio.shield(self._eof))

    def close(self) -> None:
        """Stop watching (the process has exited, or is being killed)."""
        self._loop.remove_reader(self._fd)
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poller is not None:
            self._poller.cancel()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.output += data
            # Only the tail is kept: bytes, so a bound on what a chatty step can cost.
            del self.output[: -OUTPUT_TAIL * 4]
            return
        self._loop.remove_reader(self._fd)
        if not self._eof.done():
            self._eof.set_result(None)

    def _reap(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
        self.process.wait()  # it has exited: this only collects its status
        if not self._exited.done():
            self._exited.set_result(None)

    async def _poll(self) -> None:
        while self.process.poll() is None:
            await asyncio.sleep(0.01)
        if not self._exited.done():
            self._exited.set_result(None)


# ---------------------------------------------------------------------------------------------
# Runbook steps


class KernelControl:
    """Lets the event loop's thread stop a runbook step running in a worker thread.

    ``interrupt`` marks the step cancelled, interrupts the cell in flight (through the
    kernel's manager, on the loop that drives it) and stops the run before its next cell.
    """

    def __init__(self) -> None:
        self.interrupted = threading.Event()
        self._lock = threading.Lock()
        self._kernel: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, kernel: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Remember the kernel (when launched) and the loop driving it (when it runs)."""
        with self._lock:
            self._kernel = kernel if kernel is not None else self._kernel
            self._loop = loop if loop is not None else self._loop

    def interrupt(self) -> None:
        """Stop the step: interrupt the cell in flight, and stop before the next one."""
        self.interrupted.set()
        with self._lock:
            kernel, loop = self._kernel, self._loop
        if kernel is None or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing runs
            loop.call_soon_threadsafe(_interrupt_soon, kernel)


def _interrupt_soon(kernel: Any) -> None:
    task = asyncio.ensure_future(kernel.interrupt_kernel())
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


# Interrupt requests in flight, kept so they are not garbage-collected mid-way.
_PENDING: set[asyncio.Future[Any]] = set()


def runbook_step(
    sessions: sessionmaker[Session],
    repository: Repository,
    step: RenderedStep,
    *,
    user: str,
    yes: bool,
    rollback: bool,
    control: KernelControl,
    playbook: str = "",
    cover: str | None = None,
) -> Result:
    """Plan and run one runbook step for one target (call it from a worker thread).

    ``rollback``: a failing cell makes the engine run the runbook's rollback cells (the run
    ends ``rolled_back``). A confirm or manual cell without ``yes`` stops the run (the step
    fails), as does a plan that needs a review and no standing approval for ``playbook``
    covers (nor the reviewed playbook plan ``cover`` the run is made from); a standing
    approval may let confirm cells run with nobody there.
    """
    # Imported here: the engine (nbclient, jupyter_client) is not needed by shell steps.
    from runbook.engine.hooks import RunContext, RunObserver
    from runbook.engine.operators import AutomaticOperator
    from runbook.model.run import RunMode
    from runbook.orchestrate.planning import plan_runbook
    from runbook.orchestrate.running import RunRequest, start_run
    from runbook.orchestrate.standing_approvals import confirms_unattended

    result: Result = {"step": step.name, "kind": "runbook", "runbook": step.runbook}
    started = time.monotonic()
    try:
        path = repository.resolve(step.runbook or "")
        with sessions() as session:
            plan = plan_runbook(
                session,
                repository,
                path,
                step.parameters,
                planner=user,
                caller=f"playbook:{playbook}",
                cover=cover,
            )
            yes = yes or confirms_unattended(session, plan)
    except RunbookError as error:
        return {**result, "status": "failed", "message": f"not planned: {error}"}
    result["plan"] = plan.id
    if control.interrupted.is_set():
        return {**result, "status": "cancelled", "message": "cancelled before it started"}

    class Operator(AutomaticOperator):
        def on_failure(self, index: int, cell: Cell, error: str) -> Decision:
            if rollback and not control.interrupted.is_set():
                return Decision.ROLLBACK
            return Decision.ABORT

    class StopWhenCancelled(RunObserver):
        def run_started(self, ctx: RunContext) -> None:
            control.attach(None, asyncio.get_running_loop())
            self._check()

        def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
            self._check()

        def _check(self) -> None:
            if control.interrupted.is_set():
                from runbook.engine.executor import StopRun

                raise StopRun(RunState.ABORTED, "cancelled by cancel --interrupt")

    request = RunRequest(
        plan_id=plan.id,
        executor=user,
        operator=Operator(user, yes=yes),
        mode=RunMode.AUTOMATIC,
        observers=[StopWhenCancelled()],
        cell_timeout=step.timeout,
        on_kernel=control.attach,  # so that a cancel can interrupt it
    )
    try:
        finished = start_run(sessions, repository, request)
    except RunbookError as error:
        return {**result, "status": "failed", "message": f"refused: {error}"}
    outcome = finished.outcome
    result.update(
        run=finished.run.id,
        state=outcome.state.value,
        duration=round(time.monotonic() - started, 3),
    )
    if outcome.state is RunState.SUCCEEDED:
        return {**result, "status": "succeeded"}
    message = f"run {finished.run.id} {outcome.state.value}: {outcome.message or 'no message'}"
    status = "cancelled" if control.interrupted.is_set() else "failed"
    return {**result, "status": status, "message": message}


def runbook_rollback(failed_result: Result | None, step_name: str, failed: bool) -> Result:
    """The rollback entry of a runbook step (the engine rolls back only inside a run).

    The step that failed ran its rollback cells in its own run when the run ended
    ``rolled_back``; a runbook step that had completed is not rolled back automatically:
    the entry says so, naming its run, so that a person can run its rollback.
    """
    entry: Result = {"step": step_name, "kind": "runbook", "phase": "rollback"}
    run = (failed_result or {}).get("run")
    if failed and failed_result is not None:
        if failed_result.get("state") == RunState.ROLLED_BACK.value:
            return {**entry, "status": "succeeded", "message": f"rollback cells ran in run {run}"}
        return {
            **entry,
            "status": "failed",
            "message": f"run {run} did not roll back ({failed_result.get('state', 'not run')})",
        }
    return {
        **entry,
        "status": "not_done",
        "message": f"completed runbook steps are not rolled back automatically; roll back "
        f"run {run} by hand",
    }
