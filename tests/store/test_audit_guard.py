"""Audit events cannot be changed or deleted, on SQLite and PostgreSQL (triggers, 0005)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, text, update

from runbook.errors import StoreError
from runbook.store.audit import list_events, verify_audit
from runbook.store.db import downgrade, session_scope, upgrade
from runbook.store.tables import AuditEventRow
from tests.store.test_audit import append_some
from tests.tamper import tamper


@pytest.mark.parametrize(
    ("statement", "verb"),
    [
        ("DELETE FROM audit_events", "DELETE"),
        ("DELETE FROM audit_events WHERE id = 3", "DELETE"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE id = 2", "UPDATE"),
        ("UPDATE audit_events SET payload = '{}', hash = prev_hash", "UPDATE"),
    ],
)
def test_raw_sql_cannot_change_or_delete_an_event(
    engine: Engine, statement: str, verb: str
) -> None:
    append_some(engine, 5)
    refused = f"audit_events is append-only: {verb} refused"
    with pytest.raises(StoreError, match=refused), session_scope(engine) as session:
        session.execute(text(statement))
    with session_scope(engine) as session:
        assert len(list_events(session)) == 5
        assert verify_audit(session).ok


def test_the_orm_cannot_change_or_delete_an_event_either(engine: Engine) -> None:
    append_some(engine, 2)
    for statement in (
        update(AuditEventRow).values(actor="mallory"),
        delete(AuditEventRow).where(AuditEventRow.id == 1),
    ):
        with pytest.raises(StoreError, match="append-only"), session_scope(engine) as session:
            session.execute(statement)
    with session_scope(engine) as session:
        assert [e.actor for e in list_events(session)] == ["alice", "alice"]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_truncate_is_refused_on_postgresql(engine: Engine) -> None:
    append_some(engine, 3)
    refused = "append-only: TRUNCATE refused"
    with pytest.raises(StoreError, match=refused), session_scope(engine) as session:
        session.execute(text("TRUNCATE audit_events"))


def test_the_guard_comes_and_goes_with_its_migration(engine: Engine) -> None:
    append_some(engine, 2)
    downgrade(engine, "0004")
    with session_scope(engine) as session:
        session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 1"))
    upgrade(engine)
    with pytest.raises(StoreError, match="append-only"), session_scope(engine) as session:
        session.execute(text("DELETE FROM audit_events"))


def test_an_attacker_who_can_drop_the_triggers_still_gets_through(engine: Engine) -> None:
    # What the anchors are for: the triggers only stop those without DDL rights.
    append_some(engine, 4)
    tamper(engine, "DELETE FROM audit_events WHERE id > 2")
    with session_scope(engine) as session:
        assert [e.id for e in list_events(session)] == [1, 2]
        assert verify_audit(session).ok  # the chain alone cannot tell
    # And the guard is back.
    with pytest.raises(StoreError, match="append-only"), session_scope(engine) as session:
        session.execute(text("DELETE FROM audit_events"))
