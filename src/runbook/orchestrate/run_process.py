"""The process one service run executes in: ``python -m runbook.orchestrate.run_process``.

The server never executes a notebook itself: each run gets a process of its own, so a
kernel that crashes, hangs or eats memory takes only its run down. The process is started
by :mod:`runbook.orchestrate.live_runs`, with an environment without credentials (the
store's URL comes on its standard input), and speaks one JSON line at a time on its
standard output:

``{"ready": true}``
    (pooled only) its kernel is booted and it waits for its run (see
    :mod:`runbook.orchestrate.run_pool`);
``{"run": ID}``
    the run passed its checks and is recorded: the caller may return its id;
``{"error": …}``
    it was refused before it started (the pickled RunbookError);
``{"finished": STATE}``
    it ended.

Its standard input is its lifeline: when the server dies (even ``kill -9``) the pipe
closes, and the process stops at once with its kernel. Its lease is then held by a process
that is gone: whoever looks next marks the run ``interrupted``, as for ``runbook run``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import pickle
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

from runbook.engine.kernel_pool import adopt_kernel, boot_kernel
from runbook.engine.launch import RunKernelManager, discard_kernel
from runbook.errors import RunbookError
from runbook.model.repository import Repository, find_repository
from runbook.model.run import Run, RunMode, new_run_id
from runbook.outcomes import EXIT_STOPPED, exit_code_for, exit_code_for_state

#: Set once the run is over: from then on the server closing our input (which it does as
#: soon as it reads our last line) is the normal end, not a server gone mid-run.
_ENDED = threading.Event()


def main(argv: list[str] | None = None) -> int:
    """Boot (when pooled), read the run's request, run it, say how it went."""
    parser = argparse.ArgumentParser(prog="runbook.orchestrate.run_process")
    parser.add_argument("--repo", required=True)
    parser.add_argument("--kernel", default="")
    parser.add_argument("--cwd", default="")
    args = parser.parse_args(argv)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever else writes to standard output lands on standard error
    repository = find_repository(Path(args.repo))
    run_id = new_run_id()
    pooled = _boot(repository, args.kernel, args.cwd, run_id) if args.kernel else None
    reports = None
    if args.kernel:
        # A pooled process waits for its run: whatever it can do before, it does now, so
        # that a run's first cell waits for none of it (the imports alone took ~1 s).
        _import_the_run()
        reports = _report_writer(repository) if pooled is not None else None
        _say(protocol, {"ready": pooled is not None})
    line = sys.stdin.readline()
    if not line:  # the pool closed before using it
        if pooled is not None:
            discard_kernel(pooled)
        return 0
    request = json.loads(line)
    kernels: list[RunKernelManager] = [pooled] if pooled is not None else []
    threading.Thread(target=_lifeline, args=(kernels,), name="lifeline", daemon=True).start()
    return _run(repository, request, protocol, run_id, pooled, kernels, reports)


def _import_the_run() -> None:
    # What _run imports, and the engine and store they import in turn.
    import runbook.orchestrate.live_events
    import runbook.orchestrate.remote_gates
    import runbook.orchestrate.reporting
    import runbook.orchestrate.run_controls
    import runbook.orchestrate.run_launch
    import runbook.orchestrate.running  # noqa: F401
    from runbook.model.notebook import parse_notebook

    # nbformat builds its schema validator on first use (~0.2 s): the plan's check then
    # finds it built.
    parse_notebook('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "-")
    # The ORM maps the store's tables on the first query (~0.2 s): before the run's.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()


def _report_writer(repository: Repository) -> Any:
    # Its worker process starts now too, and warms up nbconvert while the process waits.
    from runbook.orchestrate.reporting import ReportWriter

    return ReportWriter(repository)


def _run(
    repository: Repository,
    request: dict[str, Any],
    protocol: IO[str],
    run_id: str,
    pooled: RunKernelManager | None,
    kernels: list[RunKernelManager],
    reports: Any = None,
) -> int:
    # Imported after the boot: the kernel's start-up overlaps these imports.
    from sqlalchemy.orm import sessionmaker

    from runbook.orchestrate.live_events import EventObserver
    from runbook.orchestrate.remote_gates import RemoteOperator
    from runbook.orchestrate.reporting import ReportWriter
    from runbook.orchestrate.run_controls import ControlWatcher
    from runbook.orchestrate.run_launch import EarlyRun, launch_early
    from runbook.orchestrate.running import RunRequest, start_run
    from runbook.store.db import make_engine

    plan_id, mode = str(request["plan"]), RunMode(request["mode"])
    dry_run = mode is RunMode.DRY_RUN
    if pooled is not None and not adopt_kernel(pooled, plan_id=plan_id, dry_run=dry_run):
        discard_kernel(pooled)
        pooled = None
    if pooled is not None:
        early = EarlyRun(run_id, pooled, reports or ReportWriter(repository))
    else:
        early = launch_early(repository, plan_id, dry_run=dry_run)
        if early.kernel is not None:
            kernels.append(early.kernel)
    engine = make_engine(str(request["url"]))
    sessions = sessionmaker(engine)
    admitted: list[Run] = []

    def tell_admitted(run: Run) -> None:
        admitted.append(run)
        _say(protocol, {"run": run.id})

    events = EventObserver(sessions)
    operator = RemoteOperator(
        sessions, str(request["executor"]), events, by_other=bool(request.get("gate_by_other"))
    )
    run_request = RunRequest(
        plan_id=plan_id,
        executor=str(request["executor"]),
        operator=operator,
        mode=mode,
        observers=[operator, events, ControlWatcher(sessions)],
        cell_timeout=request.get("cell_timeout"),
        early=early,
        on_admitted=tell_admitted,
    )
    try:
        result = start_run(sessions, repository, run_request)
    except RunbookError as error:
        _ENDED.set()
        if not admitted:
            _say(protocol, {"error": base64.b64encode(pickle.dumps(error)).decode("ascii")})
        return exit_code_for(error)
    finally:
        engine.dispose()
    _ENDED.set()
    _say(protocol, {"finished": result.outcome.state.value})
    return exit_code_for_state(result.outcome.state)


def _boot(repository: Repository, kernel: str, cwd: str, run_id: str) -> RunKernelManager | None:
    folder = Path(cwd) if cwd else repository.root
    try:
        return boot_kernel(
            repository.root,
            repository.state_dir,
            kernel,
            folder,
            run_id,
            user=repository.config.kernel_user,
        )
    except Exception:  # e.g. no such kernelspec: the run starts its own kernel, and says why
        return None


def _lifeline(kernels: list[RunKernelManager]) -> None:
    """Stop this process, and its kernel, when the server that started it is gone."""
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(65536):
            pass
    if _ENDED.is_set():
        return  # the run is over and told: the main thread exits with its own code
    sys.stderr.write("runbook run process: its server is gone; stopping with its kernel\n")
    sys.stderr.flush()
    for kernel in kernels:
        pid = getattr(getattr(kernel.provisioner, "process", None), "pid", None)
        with contextlib.suppress(OSError, TypeError):
            os.killpg(pid, signal.SIGKILL)  # type: ignore[arg-type]  # its session: the kernel and its children
    os._exit(EXIT_STOPPED)


def _say(protocol: IO[str], message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message) + "\n")
    protocol.flush()


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:  # the lifeline thread below must not outlive a clean shutdown
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: the lifeline thread is blocked reading standard input, and an
    # interpreter shutting down around it aborts.
    os._exit(code)
