"""Record functions for the audit log. They take and return :class:`runbook.model.audit.AuditEvent`.

Events are only ever appended: nothing here updates or deletes one. Each append reads the
head of the chain and links the new event to it inside the caller's transaction, so the
event commits (or rolls back) together with the change it records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Row, Select, Text, cast, func, select
from sqlalchemy.orm import Session

from runbook.model.audit import (
    GENESIS_HASH,
    AuditEvent,
    ChainReport,
    chain_event,
    verify_chain,
)
from runbook.store.tables import AuditEventRow, require_aware

# pg_advisory_xact_lock key serialising audit appends ("rbk-audt" as a 64-bit int). It is
# held until the appending transaction ends, so the next appender reads the new head.
_AUDIT_LOCK_KEY: Final = 0x72626B2D61756474

# The column widths of audit_events: checked here so that both backends refuse the same
# values (SQLite would silently store an over-long string).
_MAX_LENGTHS: Final = {"actor": 255, "kind": 64, "subject": 128}

# Columns rather than entities: reads bypass the session's identity map, so they always
# see what is in the database, and a long chain does not fill the session.
_COLUMNS: Final[tuple[Any, ...]] = (
    AuditEventRow.id,
    AuditEventRow.at,
    AuditEventRow.actor,
    AuditEventRow.kind,
    AuditEventRow.subject,
    # As text, decoded by _payload: a row whose payload was tampered into something that is
    # not JSON would otherwise fail inside the driver, for `audit log` and `verify` alike.
    cast(AuditEventRow.payload, Text).label("payload"),
    AuditEventRow.prev_hash,
    AuditEventRow.hash,
)

#: The key under which an event read back shows a payload that is not a JSON object.
UNREADABLE_PAYLOAD: Final = "<not a JSON object>"


def append_event(
    session: Session,
    *,
    kind: str,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    at: datetime | None = None,
) -> AuditEvent:
    """Append an event chained to the current head, in the caller's transaction.

    The caller commits. Concurrent appenders never fork the chain: on PostgreSQL the append
    takes a transaction-scoped advisory lock before reading the head; on SQLite the store's
    engines begin every transaction with ``BEGIN IMMEDIATE`` (see
    :func:`runbook.store.db.make_engine`), which serialises writers. ``at`` defaults to now.
    Raises ``ValueError`` for a naive ``at``, an empty or over-long actor, kind or subject,
    and a payload that is not a plain JSON object.
    """
    fields = {"actor": str(actor), "kind": str(kind), "subject": str(subject)}
    for name, value in fields.items():
        if not value or len(value) > _MAX_LENGTHS[name]:
            raise ValueError(
                f"audit event {name} must be 1 to {_MAX_LENGTHS[name]} characters: {value!r}"
            )
    when = require_aware(at, "audit event") if at is not None else datetime.now(UTC)
    normalised = _plain_json(payload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_AUDIT_LOCK_KEY)))
    head = session.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1))
    event = chain_event(
        prev_hash=head if head is not None else GENESIS_HASH,
        at=when,
        actor=fields["actor"],
        kind=fields["kind"],
        subject=fields["subject"],
        payload=normalised,
    )
    row = AuditEventRow(
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        subject=event.subject,
        # A copy: the row stays in the session and must not alias the returned payload.
        payload=json.loads(json.dumps(normalised)),
        prev_hash=event.prev_hash,
        hash=event.hash,
    )
    session.add(row)
    session.flush()
    return AuditEvent(
        id=row.id,
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        subject=event.subject,
        payload=normalised,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def list_events(
    session: Session,
    *,
    subject: str | None = None,
    subject_prefix: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    after: int | None = None,
) -> list[AuditEvent]:
    """Events in id order (or newest first), optionally of one subject or subject prefix,
    or only those with an id above ``after``.

    With ``newest_first`` and ``limit`` this is the latest ``limit`` events.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    query = select(*_COLUMNS).order_by(
        AuditEventRow.id.desc() if newest_first else AuditEventRow.id
    )
    if subject is not None:
        query = query.where(AuditEventRow.subject == subject)
    if after is not None:
        query = query.where(AuditEventRow.id > after)
    if subject_prefix:
        # Not LIKE: SQLite's LIKE ignores case and '%'/'_' in the prefix would need escaping.
        query = query.where(
            func.substr(AuditEventRow.subject, 1, len(subject_prefix)) == subject_prefix
        )
    if limit is not None:
        query = query.limit(limit)
    return [_to_event(row) for row in session.execute(query)]


def iter_events(
    session: Session, batch: int = 1000, *, after: int | None = None
) -> Iterator[AuditEvent]:
    """Every event in id order (only those after id ``after`` if given), read ``batch`` at
    a time (keyset pagination on the id)."""
    if batch < 1:
        raise ValueError(f"batch must be 1 or more, not {batch}")
    while True:
        query: Select[Any] = select(*_COLUMNS).order_by(AuditEventRow.id).limit(batch)
        if after is not None:
            query = query.where(AuditEventRow.id > after)
        rows = session.execute(query).all()
        for row in rows:
            yield _to_event(row)
        if len(rows) < batch:
            return
        after = rows[-1].id


def chain_head(session: Session) -> AuditEvent | None:
    """The newest event of the chain; None when the log is empty."""
    row = session.execute(select(*_COLUMNS).order_by(AuditEventRow.id.desc()).limit(1)).first()
    return None if row is None else _to_event(row)


def get_event(session: Session, event_id: int) -> AuditEvent | None:
    """The event with id ``event_id``; None when there is none."""
    row = session.execute(select(*_COLUMNS).where(AuditEventRow.id == event_id)).first()
    return None if row is None else _to_event(row)


def count_events(session: Session, *, through: int | None = None) -> int:
    """How many events the log holds (only those with an id up to ``through`` if given)."""
    query = select(func.count()).select_from(AuditEventRow)
    if through is not None:
        query = query.where(AuditEventRow.id <= through)
    return int(session.scalar(query) or 0)


def verify_audit(session: Session) -> ChainReport:
    """Check the whole stored chain (see :func:`runbook.model.audit.verify_chain`)."""
    return verify_chain(iter_events(session))


def _plain_json(payload: dict[str, Any]) -> dict[str, Any]:
    # What the JSON column gives back, so the hash computed now is the one verify recomputes.
    if not isinstance(payload, dict):
        raise ValueError(f"audit event payload must be a JSON object, not {type(payload).__name__}")
    try:
        loaded: dict[str, Any] = json.loads(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit event payload is not plain JSON: {exc}") from exc
    return loaded


def _to_event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        subject=row.subject,
        payload=_payload(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _payload(text: str | None) -> dict[str, Any]:
    """A stored payload as written: a JSON object. Anything else was not written by Runbook
    (append_event refuses it), so it is shown under :data:`UNREADABLE_PAYLOAD`, and its hash
    no longer matches: ``verify`` names the event."""
    try:
        value = json.loads(text) if text is not None else None
        # A "\ud800" escape decodes to a lone surrogate, which no terminal can print.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return {UNREADABLE_PAYLOAD: (text or "")[:200]}
    return value if isinstance(value, dict) else {UNREADABLE_PAYLOAD: value}
