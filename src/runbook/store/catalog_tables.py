"""The catalog's tables: imported revisions, alert records, and the catalog's own switches.

Declared on the one :class:`~runbook.store.tables.Base` (``tables`` imports this module), so
migrations and ``create_all`` see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runbook.store.tables import Base, UTCDateTime


class CatalogRevisionRow(Base):
    """One import of ``catalog/``: immutable once stored; alerts name the one they used."""

    __tablename__ = "catalog_revisions"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1024))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    dirty: Mapped[bool | None] = mapped_column(Boolean)
    imported_by: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertRow(Base):
    """One alert received, what the catalog answered, what was done, and its resolution.

    ``(source, fingerprint, starts_at)`` is unique: a repeated delivery creates nothing.
    """

    __tablename__ = "catalog_alerts"
    __table_args__ = (UniqueConstraint("source", "fingerprint", "starts_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    service: Mapped[str | None] = mapped_column(String(255), index=True)
    code: Mapped[str | None] = mapped_column(String(255))
    rule: Mapped[str | None] = mapped_column(String(255))
    catalog_revision: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text)
    plan_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CatalogSwitchRow(Base):
    """A named switch of the catalog (``paused``: the kill switch of automated response)."""

    __tablename__ = "catalog_switches"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class CatalogAutoLockRow(Base):
    """The (service, code) whose automated response an alert holds: one row per pair, so a
    second alert answering the same pair at the same time fails to insert it and waits its
    turn (:mod:`runbook.store.catalog_locks`), on every serve process of one store."""

    __tablename__ = "catalog_auto_locks"

    service: Mapped[str] = mapped_column(String(255), primary_key=True)
    code: Mapped[str] = mapped_column(String(255), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
