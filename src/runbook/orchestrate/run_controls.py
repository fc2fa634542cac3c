"""Stopping a run from elsewhere: ``cancel`` and ``interrupt`` requests through the store.

Anyone allowed records a request with :func:`request_control`; the run's own process acts on
it (:class:`ControlWatcher`): ``interrupt`` interrupts the cell executing then, as Ctrl-C
does at a terminal, and the run then waits at an ``interrupt`` gate; ``cancel`` does the
same and answers that gate, or the one waiting, with ``abort`` by whoever cancelled (see
:class:`runbook.orchestrate.remote_gates.RemoteOperator`), and stops the run before its
next cell.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from runbook.engine.hooks import RunContext, RunObserver
from runbook.errors import RunNotRunningError
from runbook.model.identity import check_identity
from runbook.model.run import RunState
from runbook.store.gates import add_control, controls_after
from runbook.store.live_wait import wait_for
from runbook.store.runs import get_run


class ControlKind(StrEnum):
    """What a request asks of a running run."""

    CANCEL = "cancel"
    INTERRUPT = "interrupt"


def request_control(
    session: Session, run_id: str, kind: ControlKind, by: str, reason: str | None = None
) -> None:
    """Ask the running run ``run_id`` to stop (``cancel``) or interrupt its cell, as ``by``.

    Raises UnknownRunError, and RunNotRunningError (HTTP 409) when it is over.
    """
    by = check_identity(by, "requester")
    run = get_run(session, run_id)
    if run.state is not RunState.RUNNING:
        raise RunNotRunningError(run_id, run.state.value)
    add_control(session, run_id, kind.value, by, reason)


class ControlWatcher(RunObserver):
    """In the run's process: interrupts the executing cell when a request arrives."""

    def __init__(self, sessions: sessionmaker[Session], poll: float = 0.1) -> None:
        self._sessions = sessions
        self._poll = poll
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def interruptible(self, ctx: RunContext, interrupt: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self._watch, args=(ctx.run.id, interrupt), name="controls", daemon=True
        )
        self._thread.start()

    def run_finished(self, ctx: RunContext, state: RunState, message: str | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self, run_id: str, interrupt: Callable[[], None]) -> None:
        seen = 0
        while not self._done.is_set():
            found = wait_for(
                self._sessions,
                functools.partial(self._pending, run_id=run_id, after=seen),
                poll=self._poll,
            )
            if found:
                seen = found[-1][0]
                interrupt()

    def _pending(
        self, session: Session, run_id: str, after: int
    ) -> list[tuple[int, str, str]] | None:
        if self._done.is_set():
            return []
        return controls_after(session, run_id, after) or None
