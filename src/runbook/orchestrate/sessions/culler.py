"""The idle culler: a thread that stops sessions whose server died or sat idle too long."""

from __future__ import annotations

import logging
import threading

from runbook.orchestrate.sessions.local import LocalBackend

_LOG = logging.getLogger(__name__)


class Culler:
    """Calls ``backend.cull()`` every ``interval`` seconds until :meth:`close`."""

    def __init__(self, backend: LocalBackend, interval: float) -> None:
        """Start the thread."""
        self.backend = backend
        self.interval = interval
        self._done = threading.Event()
        #: Set after each round (tests wait on it rather than on the clock).
        self.rounds = threading.Condition()
        self.count = 0
        self._thread = threading.Thread(target=self._loop, name="session-culler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            try:
                for record in self.backend.cull():
                    _LOG.info(
                        "session %s of %s stopped: %s",
                        record.name,
                        record.owner,
                        record.stop_reason,
                    )
            except Exception:  # a bad round must not end the culling
                _LOG.exception("culling sessions failed")
            with self.rounds:
                self.count += 1
                self.rounds.notify_all()

    def close(self) -> None:
        """Stop the thread (after the round in progress, if any)."""
        self._done.set()
        self._thread.join()
