"""The automation lock of a (service, code): at most one automated response at a time.

An alert that is about to answer a (service, code) automatically takes its lock, a row in
``catalog_auto_locks`` keyed on the pair, before it checks the other guards. Two alerts at
once, in one process or in two serve processes on one store, both try to insert the same
key: one wins, the other sees the holder. On PostgreSQL the loser's insert waits for the
winner's transaction, then fails; on SQLite transactions are serialized (``BEGIN
IMMEDIATE``). A holder that is no longer in flight (its run ended, it fell back to a
suggestion, or it is older than the in-flight window) is taken over with a compare-and-set
on its alert id, so two takers of a stale lock cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.store.catalog_tables import CatalogAutoLockRow

#: Whether the alert holding a lock (its id, when it took it) still answers the pair.
InFlight = Callable[[str, datetime], bool]


def take_auto_lock(
    session: Session,
    *,
    service: str,
    code: str,
    alert_id: str,
    now: datetime,
    in_flight: InFlight,
) -> str | None:
    """Take the lock of (service, code) for ``alert_id``; None when taken, else the id of
    the alert in flight that holds it. The lock is held once the transaction commits."""
    try:
        with session.begin_nested():
            session.execute(
                insert(CatalogAutoLockRow).values(
                    service=service, code=code, alert_id=alert_id, taken_at=now
                )
            )
        return None
    except IntegrityError:
        pass  # held, or left by an alert no longer in flight
    holder = session.get(CatalogAutoLockRow, (service, code), populate_existing=True)
    if holder is None:  # released between the insert and the read: try once more
        return take_auto_lock(
            session, service=service, code=code, alert_id=alert_id, now=now, in_flight=in_flight
        )
    held_by = holder.alert_id
    if held_by == alert_id:
        return None
    if in_flight(held_by, holder.taken_at):
        return held_by
    taken = session.execute(
        update(CatalogAutoLockRow)
        .where(
            CatalogAutoLockRow.service == service,
            CatalogAutoLockRow.code == code,
            CatalogAutoLockRow.alert_id == held_by,
        )
        .values(alert_id=alert_id, taken_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        # Someone else took the stale lock first: they are in flight now.
        fresh = session.get(CatalogAutoLockRow, (service, code), populate_existing=True)
        return fresh.alert_id if fresh is not None else held_by
    return None


def release_auto_lock(session: Session, *, service: str, code: str, alert_id: str) -> None:
    """Give the lock of (service, code) back, if ``alert_id`` still holds it."""
    session.execute(
        delete(CatalogAutoLockRow).where(
            CatalogAutoLockRow.service == service,
            CatalogAutoLockRow.code == code,
            CatalogAutoLockRow.alert_id == alert_id,
        )
    )
