"""The target locks a playbook run holds, read straight from their table (no production
code needs the list: it only locks, checks holders and releases)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.store.tables import TargetLockRow


def locked_targets(session: Session, run_id: str) -> list[str]:
    """The lock keys (target identities) run ``run_id`` holds, sorted."""
    query = select(TargetLockRow.target).where(TargetLockRow.run_id == run_id)
    return sorted(session.scalars(query))
