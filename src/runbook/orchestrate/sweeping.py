"""Marking records whose process died ``interrupted``: what every command that looks does first.

Light on purpose: listing runs imports this, not the engine.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from runbook.engine.kernel_folders import sweep_kernel_folders
from runbook.model.audit import EventKind, run_subject
from runbook.model.repository import Repository
from runbook.orchestrate.leases import lease_seconds, owner_gone
from runbook.store.audit import append_event
from runbook.store.db import is_read_only, session_scope, writable
from runbook.store.runs import sweep_interrupted

#: How often a service process sweeps at most (:func:`sweep_at_most_every`): a run whose
#: process died shows as interrupted at most this much later than it would otherwise.
SERVICE_SWEEP_SECONDS = 1.0


def sweep(
    session: Session, repository: Repository | None = None, *, always: bool = False
) -> list[str]:
    """Mark runs whose process died ``interrupted``; called by every command that looks.

    With the ``repository``, also remove the kernel folders such processes left behind.
    On a store given to :func:`sweep_at_most_every` this sweeps only when its interval
    has passed (unless ``always``), and a read-only session's sweep writes in a session
    of its own, committed before the caller reads.
    """
    engine = session.get_bind().engine
    schedule = _SCHEDULES.get(engine.pool)
    if schedule is not None and not always and not schedule.due():
        return []
    if is_read_only(session):
        with session_scope(writable(engine)) as own:
            return _sweep(own, repository)
    return _sweep(session, repository)


def sweep_at_most_every(engine: Engine, seconds: float = SERVICE_SWEEP_SECONDS) -> None:
    """From now on, the reads of this process on ``engine``'s store sweep at most once
    every ``seconds``: a service answering hundreds of reads a second need not sweep on
    each (a CLI command sweeps once, on its first read)."""
    _SCHEDULES[engine.pool] = _Schedule(seconds)


class _Schedule:
    """When the next sweep of one store is due; one caller per interval gets the turn."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.next_at = 0.0
        self.lock = threading.Lock()

    def due(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if now < self.next_at:
                return False
            self.next_at = now + self.every
            return True


_SCHEDULES: weakref.WeakKeyDictionary[Any, _Schedule] = weakref.WeakKeyDictionary()


def _sweep(session: Session, repository: Repository | None) -> list[str]:
    marked = sweep_interrupted(session, lease_seconds=lease_seconds(), owner_gone=owner_gone)
    if repository is not None:
        sweep_kernel_folders(repository.state_dir, owner_gone)
    return audit_swept(session, marked, EventKind.RUN_STATE, run_subject)


def audit_swept(
    session: Session,
    marked: list[str],
    kind: EventKind,
    subject: Callable[[str], str],
    details: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Append the audit event saying each swept record (run, workflow or playbook run)
    became ``interrupted`` because its lease expired (with ``details[id]``, if any);
    returns ``marked``."""
    for record_id in marked:
        append_event(
            session,
            kind=kind,
            actor="runbook",
            subject=subject(record_id),
            payload={
                "state": "interrupted",
                "reason": "lease expired",
                **(details or {}).get(record_id, {}),
            },
        )
    return marked
