"""The triggers that make ``audit_events`` append-only on both backends.

Defence in depth: the hash chain and its anchors detect a changed log, the triggers stop the
change from being made by anyone who is not also able to run DDL (drop the triggers). They
are created by migration ``0005`` and, for tables made with ``create_all``, by the
``after_create`` listeners that :mod:`runbook.store.tables` attaches; the two must emit the
same SQL (a test compares SQLite's stored schema).

SQLite has no TRUNCATE (``DELETE FROM`` without ``WHERE`` fires the delete trigger); on
PostgreSQL a statement trigger refuses TRUNCATE too. ``DROP TABLE`` is DDL and out of reach
of any trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GuardStatement:
    """One DDL statement of the guard and the dialect it is for."""

    dialect: str
    sql: str


REFUSAL: Final = "audit_events is append-only"
"""The start of the error message a refused UPDATE, DELETE or TRUNCATE raises."""

AUDIT_GUARD_DDL: Final[tuple[GuardStatement, ...]] = (
    GuardStatement(
        "sqlite",
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: UPDATE refused'); END",
    ),
    GuardStatement(
        "sqlite",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: DELETE refused'); END",
    ),
    GuardStatement(
        "postgresql",
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP; END $$",
    ),
    GuardStatement(
        "postgresql",
        "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    ),
    GuardStatement(
        "postgresql",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    ),
)
