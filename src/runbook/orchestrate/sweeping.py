"""Marking records whose process died ``interrupted``: what every command that looks does first.

Light on purpose: listing runs imports this, not the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from runbook.engine.kernel_folders import sweep_kernel_folders
from runbook.model.audit import EventKind, run_subject
from runbook.model.repository import Repository
from runbook.orchestrate.leases import lease_seconds, owner_gone
from runbook.store.audit import append_event
from runbook.store.runs import sweep_interrupted


def sweep(session: Session, repository: Repository | None = None) -> list[str]:
    """Mark runs whose process died ``interrupted``; called by every command that looks.

    With the ``repository``, also remove the kernel folders such processes left behind.
    """
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
