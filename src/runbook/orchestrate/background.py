"""Work the service carries on after it has answered: a workflow or playbook run.

:meth:`Background.launch` runs ``work`` in a thread of its own and returns once the work
*announces* what it started (the run's record, once it is in the store), so the caller
answers with its id while the run goes on. An error before the announcement (a refusal, a
bad parameter) is raised to the caller as if the work had run in its thread; one after it
is the run's own business: the core records it (the run ends failed or interrupted) and it
is logged here. The thread ends with the run; :meth:`Background.join` waits for them all
(the server's shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from runbook.errors import FailureError
from runbook.orchestrate.worker_threads import in_worker_thread

T = TypeVar("T")

_log = logging.getLogger("runbook.background")

#: What ``work`` is handed: call it with the record of what it started.
Announce = Callable[[T], None]


class _Handoff(Generic[T]):
    """What the work announced, or why it ended first."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def announce(self, value: T) -> None:
        if not self.ready.is_set():
            self.value = value
            self.ready.set()

    def fail(self, error: BaseException) -> None:
        if not self.ready.is_set():
            self.error = error
            self.ready.set()


class Background:
    """The threads of the work a server started and that has not ended yet."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def launch(self, name: str, work: Callable[[Announce[T]], Any]) -> T:
        """Start ``work(announce)`` in a thread; what it announces, once it does."""
        handoff: _Handoff[T] = _Handoff()

        def body() -> None:
            try:
                in_worker_thread(lambda: work(handoff.announce))
            except BaseException as error:  # told to the caller, or logged: never lost
                if handoff.ready.is_set():
                    _log.error("%s ended with an error", name, exc_info=error)
                handoff.fail(error)
            finally:
                handoff.fail(FailureError(f"{name} ended before it started anything"))
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=body, name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        handoff.ready.wait()
        if handoff.error is not None:
            raise handoff.error
        return handoff.value  # type: ignore[return-value]  # announced: set

    def running(self) -> int:
        """How many started works have not ended."""
        with self._lock:
            return len(self._threads)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every started work to end (at most ``timeout`` seconds in all);
        whether they all did."""
        with self._lock:
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        return self.running() == 0
