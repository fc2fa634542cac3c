"""The lease of every kind of run, seen from the process holding it.

:mod:`runbook.store.leases` fences the writes; this module says who the holder is
(``host:pid``), how long a lease lasts, whether an owner is gone, and keeps a lease alive from
a thread while its run, workflow run or playbook run executes.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import RunbookError
from runbook.model.settings_process import process_settings
from runbook.store.leases import Leased, LeaseKind, renew_lease


def lease_seconds() -> float:
    """How long a run's lease lasts without a heartbeat (``RUNBOOK_LEASE_SECONDS``)."""
    return process_settings().lease_seconds


def lease_owner() -> str:
    """This process, as a lease owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str) -> bool:
    """True when ``owner`` is a process on this host that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def keep_alive(
    sessions: sessionmaker[Session], kind: LeaseKind[Leased], record_id: str, epoch: int
) -> LeaseHeartbeat:
    """A heartbeat renewing the lease of ``record_id`` (of ``kind``) at ``epoch``."""
    beat = functools.partial(renew_lease, kind=kind, record_id=record_id, epoch=epoch)
    return LeaseHeartbeat(sessions, beat, record_id)


class LeaseHeartbeat:
    """Renews a lease from a thread: calls ``beat`` in a transaction every third of a lease.

    Stops when ``beat`` raises a RunbookError: the lease moved on, and the holder's final
    write will be refused and say so.
    """

    def __init__(
        self, sessions: sessionmaker[Session], beat: Callable[[Session], None], name: str
    ) -> None:
        self._sessions = sessions
        self._beat_once = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{name}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = max(lease_seconds() / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                with self._sessions.begin() as session:
                    self._beat_once(session)
            except RunbookError:
                return
            except DBAPIError:
                # The store dropped the connection or is down: beat again next time. The
                # holder's own writes retry, and stop the run if the store stays away.
                continue
