"""SQLAlchemy tables of the store.

The rows declared here never leave the store: record functions convert them to the model's
dataclasses. Any change here needs a new migration under ``migrations/versions`` (a test
compares these declarations with the migrated schema).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from runbook.store.append_only import AUDIT_GUARD_DDL

# Deterministic constraint names, so that migrations (and SQLite batch mode, which must
# recreate constraints by name) can refer to them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every store table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def require_aware(value: datetime, what: str) -> datetime:
    """Return ``value`` in UTC, refusing a naive datetime with ``ValueError``.

    A naive datetime has no defined instant: storing it would silently shift it by the
    offset of whichever machine reads it back.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {value.isoformat()} refused; give it a timezone")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC and always read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC on the way in; naive values raise ``ValueError``."""
        if value is None:
            return None
        value = require_aware(value, "timestamp")
        if dialect.name == "sqlite":
            # SQLite stores text without an offset; every stored value is UTC by construction.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to values SQLite returns naive; normalise others to UTC."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class PlanRow(Base):
    """One plan: a runbook bound to parameter values, frozen with its sha256."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    runbook_path: Mapped[str] = mapped_column(String(1024), index=True)
    title: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    planned_by: Mapped[str] = mapped_column(String(255))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    notebook_path: Mapped[str] = mapped_column(String(1024))
    review_required: Mapped[bool] = mapped_column(Boolean)
    content: Mapped[str] = mapped_column(Text)
    review_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    standing_approval: Mapped[str | None] = mapped_column(String(64))


class StandingApprovalRow(Base):
    """A reviewer's approval of a runbook at a hash for unattended callers, within bounds."""

    __tablename__ = "standing_approvals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    runbook_path: Mapped[str] = mapped_column(String(1024), index=True)
    runbook_sha256: Mapped[str] = mapped_column(String(64))
    bounds: Mapped[dict[str, Any]] = mapped_column(JSON)
    callers: Mapped[list[str]] = mapped_column(JSON)
    approved_by: Mapped[str] = mapped_column(String(255))
    identity_kind: Mapped[str] = mapped_column(String(16))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirm_unattended: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    modules: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlanNotebookRow(Base):
    """A plan's notebook, its exact bytes as planned: any machine on the store can read it.

    Recorded in the transaction that records the plan; plans recorded before revision 0007
    have none (their file under ``runs/plans/`` is all there is).
    """

    __tablename__ = "plan_notebooks"

    plan_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    notebook: Mapped[bytes] = mapped_column(LargeBinary)


class ReviewRow(Base):
    """One verdict on one plan; deleted with its plan."""

    __tablename__ = "reviews"
    # AUTOINCREMENT keeps SQLite from reusing the id of a deleted last row, so ids only grow
    # (they break ties when ordering reviews).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    verdict: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    plan_sha256: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    identity_kind: Mapped[str] = mapped_column(String(16), server_default="claimed")
    signature: Mapped[str | None] = mapped_column(Text, unique=True)
    nonce: Mapped[str | None] = mapped_column(String(64))
    signer_key: Mapped[str | None] = mapped_column(String(128))


class RunRow(Base):
    """One execution of a plan, with the lease its executing process holds."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("plans.id", ondelete="CASCADE"), index=True
    )
    executor: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notebook_path: Mapped[str] = mapped_column(String(1024))
    lease_owner: Mapped[str] = mapped_column(String(255))
    lease_epoch: Mapped[int] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resumed_from: Mapped[str | None] = mapped_column(String(64))
    start_cell: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    # The plan's id while this run is running, NULL after: the unique index is the lock that
    # keeps two runs of one plan from executing at once (NULLs never collide).
    running_plan_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class CellEventRow(Base):
    """What happened to one cell of one run."""

    __tablename__ = "cell_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    cell_index: Mapped[int] = mapped_column(Integer)
    cell_id: Mapped[str | None] = mapped_column(String(64))
    cell_type: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class AuditEventRow(Base):
    """One append-only audit event; ``hash`` covers its content and ``prev_hash``."""

    __tablename__ = "audit_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# The append-only triggers, for tables made by create_all (migration 0005 makes them too).
for _guard in AUDIT_GUARD_DDL:
    event.listen(
        AuditEventRow.__table__,
        "after_create",
        # DDL formats its text with %: a literal percent sign is written twice.
        DDL(_guard.sql.replace("%", "%%")).execute_if(  # type: ignore[no-untyped-call]
            dialect=_guard.dialect
        ),
    )


class WorkflowRunRow(Base):
    """One workflow run, holding a frozen copy of the definition it runs."""

    __tablename__ = "workflow_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(1024))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reference_date: Mapped[date | None] = mapped_column(Date)
    date_ranges: Mapped[list[list[str]] | None] = mapped_column(JSON)
    resumed_from: Mapped[str | None] = mapped_column(String(64))
    natural_key: Mapped[str | None] = mapped_column(String(512), index=True)
    # The natural key while the firing counts as done (running or succeeded), NULL after a
    # failure: the unique index makes a repeated sensor or schedule firing a no-op.
    claim: Mapped[str | None] = mapped_column(String(512), unique=True)
    message: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last: added by migration 0006, which appends it.
    lease_epoch: Mapped[int] = mapped_column(Integer, server_default="1")


class WorkflowTaskRow(Base):
    """One task of one workflow run; its execution is a run of its own (``run_id``)."""

    __tablename__ = "workflow_tasks"
    __table_args__ = (
        UniqueConstraint("workflow_run_id", "key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workflow_runs.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    notebook_path: Mapped[str | None] = mapped_column(String(1024))
    reports: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)


class SchedulerStateRow(Base):
    """What the scheduler last did for one trigger: survives restarts, shared by schedulers."""

    __tablename__ = "scheduler_state"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    last_fire: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    owner: Mapped[str] = mapped_column(String(255))


class PlaybookDefinitionRow(Base):
    """One imported revision of a playbook; revisions of a name count up from 1."""

    __tablename__ = "playbook_definitions"
    __table_args__ = (
        UniqueConstraint("name", "revision"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    revision: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1024))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    # NULL when the repository is not a git repository (nothing to compare with).
    dirty: Mapped[bool | None] = mapped_column(Boolean)
    imported_by: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlaybookRunRow(Base):
    """One playbook run, holding a frozen copy of the definition it runs."""

    __tablename__ = "playbook_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    playbook: Mapped[str] = mapped_column(String(255), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Indexed: retention deletes finished runs by age.
    finish_ts: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    retry_of: Mapped[str | None] = mapped_column(String(64))
    cancel_mode: Mapped[str | None] = mapped_column(String(16))
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)
    # Last: added by migration 0006, which appends it.
    lease_epoch: Mapped[int] = mapped_column(Integer, server_default="1")
    # The reviewed plan it runs under (migration 0010, appended): its success spends it.
    plan_id: Mapped[str | None] = mapped_column(String(64), index=True)


class PlaybookTargetRow(Base):
    """What happened to one target in one playbook run; deleted with its run."""

    __tablename__ = "playbook_targets"
    __table_args__ = (
        UniqueConstraint("run_id", "name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("playbook_runs.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(1024))
    vars: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int | None] = mapped_column(Integer)
    added: Mapped[bool] = mapped_column(Boolean)
    removed: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    start_seq: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finish_ts: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class TargetLockRow(Base):
    """A target in use by a running playbook run: the primary key is the lock."""

    __tablename__ = "target_locks"

    target: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("playbook_runs.id", ondelete="CASCADE"), index=True
    )
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())


from runbook.store import live_tables as _live_tables  # noqa: E402, F401 - on this metadata
from runbook.store import token_rows as _token_rows  # noqa: E402, F401 - on this metadata
