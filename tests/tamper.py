"""What an attacker with write access to the database does to the audit log.

The append-only triggers refuse UPDATE and DELETE of audit events; someone who can run DDL
drops them first, changes what they like, and puts them back so nothing looks amiss. These
helpers do exactly that, so tests can check what ``audit verify`` still detects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, text

from runbook.model.audit import AuditEvent, recomputed_hash
from runbook.store.append_only import AUDIT_GUARD_DDL

_DROP = {
    "sqlite": (
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ),
    "postgresql": (
        "DROP TRIGGER audit_events_no_change ON audit_events",
        "DROP TRIGGER audit_events_no_truncate ON audit_events",
        "DROP FUNCTION audit_events_append_only()",
    ),
}


@contextmanager
def unguarded(engine: Engine) -> Iterator[Connection]:
    """A transaction on ``engine`` with the append-only triggers dropped, restored at the end."""
    dialect = engine.dialect.name
    with engine.begin() as connection:
        for statement in _DROP[dialect]:
            connection.exec_driver_sql(statement)
        yield connection
        for guard in AUDIT_GUARD_DDL:
            if guard.dialect == dialect:
                connection.execute(text(guard.sql))


def tamper(engine: Engine, *statements: str) -> None:
    """Run SQL statements against the audit log as an attacker would (triggers dropped)."""
    with unguarded(engine) as connection:
        for statement in statements:
            connection.execute(text(statement))


def rewrite_chain(engine: Engine, event_id: int, edit: Callable[[AuditEvent], AuditEvent]) -> None:
    """Edit event ``event_id`` and recompute the hash of it and of every event after it.

    The result is a chain that verifies on its own: only something kept outside the table
    (an anchor) or the other tables can tell it was rewritten.
    """
    from runbook.store.audit import list_events
    from runbook.store.db import session_scope

    with session_scope(engine) as session:
        events = list_events(session)
    with unguarded(engine) as connection:
        prev_hash: str | None = None
        for event in events:
            assert event.id is not None
            if event.id < event_id:
                prev_hash = event.hash
                continue
            changed = edit(event) if event.id == event_id else event
            if prev_hash is not None:
                changed = _relinked(changed, prev_hash)
            changed = _relinked(changed, changed.prev_hash)
            _write(connection, changed)
            prev_hash = changed.hash


def _relinked(event: AuditEvent, prev_hash: str) -> AuditEvent:
    moved = AuditEvent(
        id=event.id,
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        subject=event.subject,
        payload=event.payload,
        prev_hash=prev_hash,
        hash="",
    )
    return AuditEvent(**{**moved.__dict__, "hash": recomputed_hash(moved)})


def _write(connection: Connection, event: AuditEvent) -> None:
    from runbook.store.tables import AuditEventRow

    values: dict[str, Any] = {
        "at": event.at,
        "actor": event.actor,
        "kind": event.kind,
        "subject": event.subject,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    connection.execute(
        cast(Table, AuditEventRow.__table__)
        .update()
        .where(AuditEventRow.id == event.id)
        .values(**values)
    )
