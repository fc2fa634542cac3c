"""Starting a run for the service: in a process of its own, its id returned at once.

:func:`start_live_run` hands the request to a run process (:mod:`runbook.orchestrate.
run_process`), a pooled one whose kernel is booted already when one fits
(:mod:`runbook.orchestrate.run_pool`), and returns as soon as the run passed the same
checks as ``runbook run`` and holds its lease: the run goes on in that process, its gates
decided through the store (:mod:`runbook.orchestrate.remote_gates`). A refusal comes back
as the very error ``runbook run`` raises.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.credentials import scrubbed
from runbook.errors import FailureError, RunbookError
from runbook.model.repository import Repository
from runbook.model.run import RunMode
from runbook.orchestrate.run_artifacts import publish_run
from runbook.store.artifacts import ArtifactStore


@dataclass(frozen=True)
class LiveRunRequest:
    """What the service asks: which plan, by whom, how."""

    plan_id: str
    executor: str
    mode: RunMode = RunMode.INTERACTIVE
    #: Every gate needs a decider other than the executor (also ``metadata.runbook.gate``).
    gate_by_other: bool = False
    cell_timeout: float | None = None


class RunWorker:
    """One run process: started, told its run, then left to it (and reaped when it ends).

    Its standard input stays open for as long as this process lives: it is the run's
    lifeline (closed, the run process stops with its kernel).
    """

    def __init__(self, repository: Repository, kernel: str = "", cwd: Path | None = None) -> None:
        command = [sys.executable, "-m", "runbook.orchestrate.run_process"]
        command += ["--repo", str(repository.root)]
        if kernel:
            command += ["--kernel", kernel, "--cwd", str(cwd or repository.root)]
        self.kernel = kernel
        self.cwd = cwd
        # Its own session: a Ctrl-C at the server's terminal is not the run's. No credential
        # in its environment: the store's URL comes on its standard input.
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=scrubbed(os.environ),
            start_new_session=True,
            text=True,
        )

    def read(self) -> dict[str, Any] | None:
        """The process's next message; None when it ended without one."""
        stdout = self.process.stdout
        line = stdout.readline() if stdout is not None else ""
        return json.loads(line) if line.strip() else None

    def send(self, message: dict[str, Any]) -> None:
        """Tell the process its run (one JSON line)."""
        if self.process.stdin is None:
            raise FailureError("the run process has no input")
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def reap_in_background(self, on_end: Callable[[], object] | None = None) -> None:
        """Keep its lifeline open until it ends, then collect it (and call ``on_end``)."""
        threading.Thread(target=self._reap, args=(on_end,), name="run-reaper", daemon=True).start()

    def close(self) -> None:
        """Close its lifeline: an idle pooled process stops, a running one is killed."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def stop(self) -> None:
        """Close its lifeline, wait for it to end, and close what is left of its pipes."""
        self.close()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _reap(self, on_end: Callable[[], object] | None) -> None:
        while self.read() is not None:  # drain what it says, so that it never blocks on us
            pass
        self.stop()
        if on_end is not None:
            on_end()


@dataclass(frozen=True)
class LiveRun:
    """A run started for the service: its id, and the process executing it."""

    run_id: str
    worker: RunWorker


def start_live_run(
    repository: Repository,
    url: str,
    request: LiveRunRequest,
    worker: RunWorker | None = None,
    artifacts: ArtifactStore | None = None,
) -> LiveRun:
    """Start ``request`` in a run process (``worker``, a pooled one, or a new one).

    Returns once the run is recorded and holds its lease. Raises what ``runbook run`` would
    have raised when it is refused (RunRefusedError…), and FailureError when the process
    ended without saying why. When the run's process ends, its folder is copied to
    ``artifacts`` (:func:`runbook.orchestrate.run_artifacts.publish_run`).
    """
    process = worker or RunWorker(repository)
    process.send(
        {
            "url": url,
            "plan": request.plan_id,
            "executor": request.executor,
            "mode": request.mode.value,
            "gate_by_other": request.gate_by_other,
            "cell_timeout": request.cell_timeout,
        }
    )
    message = process.read()
    if message is not None and "run" in message:
        run_id = str(message["run"])
        if artifacts is None:
            process.reap_in_background()
        else:
            process.reap_in_background(lambda: publish_run(artifacts, repository, run_id))
        return LiveRun(run_id, process)
    process.stop()
    if message is not None and "error" in message:
        error = pickle.loads(base64.b64decode(message["error"]))  # noqa: S301 - our child's
        if isinstance(error, RunbookError):
            raise error
    raise FailureError(
        f"plan {request.plan_id}: the run process ended (exit code "
        f"{process.process.returncode}) before its run started; see the server's log"
    )
