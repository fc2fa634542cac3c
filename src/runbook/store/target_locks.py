"""Target locks: a target in use by a running playbook run has a row in ``target_locks``.

The row's primary key is the target's identity (its address, normalized:
:mod:`runbook.model.playbooks.target_identity`), so two playbooks naming one machine differently
exclude each other: a second run that needs it fails to insert the same key, on SQLite and
PostgreSQL alike, and is refused. The key sits in the ``target`` column (255 characters, as
the name did: a longer identity is stored as its sha256), so no migration was needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import StoreError
from runbook.model.playbooks.playbook_run import PlaybookRunState, TargetRecord
from runbook.model.playbooks.target_identity import target_lock_key
from runbook.store.tables import PlaybookRunRow, TargetLockRow

# Locking again after a holder released its locks (or left stale ones) between two reads.
_LOCK_ATTEMPTS = 3
_RUNNING = PlaybookRunState.RUNNING.value


def lock_targets(
    session: Session,
    run_id: str,
    targets: Sequence[TargetRecord],
    now: datetime | None = None,
) -> tuple[str, str, str] | None:
    """Lock every target in ``targets`` for run ``run_id``, or none of them.

    A lock is keyed on the target's identity (:func:`target_lock_key`: its address,
    normalized), not its name, so two runs naming one machine differently exclude each
    other; targets of this run that share an identity share its lock. Returns None when all
    are locked, else ``(target, holding run, its playbook)`` for the first target (in
    ``targets`` order) that another running run holds, the target named with its key when
    the two differ.
    """
    keys: dict[str, str] = {}
    for target in targets:
        keys.setdefault(target_lock_key(target.address, target.name), target.name)
    if not keys:
        return None
    moment = now or datetime.now(UTC)
    for _ in range(_LOCK_ATTEMPTS):
        holders = _holders(session, list(keys))
        for key, name in keys.items():
            holder = holders.get(key)
            if holder is not None and holder[0] != run_id and holder[1] == _RUNNING:
                return (name if name == key else f"{name} ({key})"), holder[0], holder[2]
        # Only a crash between a run's end and its lock release could leave locks of a
        # finished run: take them over.
        stale = [key for key, (run, state, _) in holders.items() if state != _RUNNING]
        if stale:
            session.execute(delete(TargetLockRow).where(TargetLockRow.target.in_(stale)))
        # What is left held is held by this run already (an added target sharing a key).
        rows = [
            {"target": key, "run_id": run_id, "locked_at": moment}
            for key in keys
            if key not in holders or key in stale
        ]
        try:
            with session.begin_nested():
                if rows:
                    session.execute(insert(TargetLockRow), rows)
            return None
        except IntegrityError:
            continue  # another run locked one of them since the read: read again
    raise StoreError(f"could not lock the targets of playbook run {run_id}; try again")


def _holders(session: Session, keys: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    query = (
        select(
            TargetLockRow.target, PlaybookRunRow.id, PlaybookRunRow.state, PlaybookRunRow.playbook
        )
        .join(PlaybookRunRow, PlaybookRunRow.id == TargetLockRow.run_id)
        .where(TargetLockRow.target.in_(list(keys)))
    )
    return {target: (run, state, book) for target, run, state, book in session.execute(query)}


def release_locks(session: Session, run_id: str) -> None:
    """Free every target locked by run ``run_id``."""
    session.execute(delete(TargetLockRow).where(TargetLockRow.run_id == run_id))
