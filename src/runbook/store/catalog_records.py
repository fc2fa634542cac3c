"""Record functions of the catalog: revisions, alert records, the kill switch."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runbook.errors import UnknownCatalogEntryError
from runbook.model.catalog.alert_payloads import Alert
from runbook.store.catalog_tables import AlertRow, CatalogRevisionRow, CatalogSwitchRow
from runbook.store.revisions import append_revision

PAUSED = "paused"


@dataclass(frozen=True)
class CatalogRevision:
    """One stored import of the catalog."""

    revision: int
    definition: dict[str, Any]
    sha256: str
    source: str
    git_commit: str | None
    dirty: bool | None
    imported_by: str
    imported_at: datetime


def definition_sha256(definition: dict[str, Any]) -> str:
    """The sha256 of the canonical JSON of a stored catalog."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def store_revision(
    session: Session,
    definition: dict[str, Any],
    *,
    source: str,
    git_commit: str | None,
    dirty: bool | None,
    imported_by: str,
    now: datetime | None = None,
) -> tuple[CatalogRevision, bool]:
    """Store ``definition`` as the next revision; ``created`` False when the newest one
    holds the same content (nothing stored)."""
    sha = definition_sha256(definition)

    def make_row(number: int) -> CatalogRevisionRow:
        return CatalogRevisionRow(
            revision=number,
            definition=definition,
            sha256=sha,
            source=source,
            git_commit=git_commit,
            dirty=dirty,
            imported_by=imported_by,
            imported_at=now or datetime.now(UTC),
        )

    row, created = append_revision(session, sha, lambda: _newest(session), make_row, "catalog")
    return _revision(row), created


def _newest(session: Session) -> CatalogRevisionRow | None:
    query = select(CatalogRevisionRow).order_by(CatalogRevisionRow.revision.desc()).limit(1)
    return session.scalars(query).first()


def newest_sha256(session: Session) -> str | None:
    """The content hash of the newest revision (cheap: the definition is not read)."""
    query = select(CatalogRevisionRow.sha256).order_by(CatalogRevisionRow.revision.desc())
    return session.scalars(query.limit(1)).first()


def newest_revision(session: Session) -> CatalogRevision:
    """The catalog in use: the newest import; UnknownCatalogEntryError when there is none."""
    row = _newest(session)
    if row is None:
        raise UnknownCatalogEntryError("catalog", "none imported yet: `runbook catalog import`")
    return _revision(row)


def _revision(row: CatalogRevisionRow) -> CatalogRevision:
    return CatalogRevision(
        revision=row.revision,
        definition=dict(row.definition),
        sha256=row.sha256,
        source=row.source,
        git_commit=row.git_commit,
        dirty=row.dirty,
        imported_by=row.imported_by,
        imported_at=row.imported_at,
    )


def receive_alert_row(
    session: Session, alert: Alert, *, now: datetime | None = None
) -> tuple[AlertRow, bool]:
    """The record of ``alert``: a new one (``created`` True) or the one a previous delivery
    of the same ``(source, fingerprint, starts_at)`` made, left as it is."""
    existing = find_alert(session, alert)
    if existing is not None:
        return existing, False
    row = AlertRow(
        id=f"alert-{secrets.token_hex(6)}",
        source=alert.source,
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        action="received",
        detail="",
        received_at=now or datetime.now(UTC),
        resolved_at=(now or datetime.now(UTC)) if alert.status == "resolved" else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # a concurrent delivery of the same alert recorded it first
        found = find_alert(session, alert)
        if found is None:
            raise
        return found, False
    return row, True


def find_alert(session: Session, alert: Alert) -> AlertRow | None:
    """The record of an alert by its natural key, or None."""
    query = select(AlertRow).where(
        AlertRow.source == alert.source,
        AlertRow.fingerprint == alert.fingerprint,
        AlertRow.starts_at == alert.starts_at,
    )
    return session.scalars(query).first()


def get_alert(session: Session, alert_id: str) -> AlertRow:
    """The alert record ``alert_id``; UnknownCatalogEntryError when there is none."""
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise UnknownCatalogEntryError(f"alert {alert_id}", "see `runbook catalog alerts`")
    return row


def list_alerts(
    session: Session,
    *,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
    service: str | None = None,
    code: str | None = None,
    status: str | None = None,
) -> list[AlertRow]:
    """The newest alert records first, ``offset`` of them skipped (only those with the
    ``action``, ``service``, ``code`` and ``status`` given)."""
    query = select(AlertRow).order_by(AlertRow.received_at.desc(), AlertRow.id)
    for column, value in (
        (AlertRow.action, action),
        (AlertRow.service, service),
        (AlertRow.code, code),
        (AlertRow.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query.offset(offset).limit(limit)))


def automated_since(
    session: Session, *, service: str, since: datetime, code: str | None = None
) -> list[AlertRow]:
    """Alerts of ``service`` (and ``code``) answered by an automated run since ``since``."""
    query = select(AlertRow).where(
        AlertRow.service == service, AlertRow.action == "auto", AlertRow.received_at >= since
    )
    if code is not None:
        query = query.where(AlertRow.code == code)
    return list(session.scalars(query.order_by(AlertRow.received_at.desc())))


def count_alerts(session: Session) -> int:
    """How many alert records there are."""
    return int(session.scalar(select(func.count()).select_from(AlertRow)) or 0)


def is_paused(session: Session) -> bool:
    """Whether automated response is paused (``runbook catalog pause``)."""
    row = session.get(CatalogSwitchRow, PAUSED)
    return bool(row and row.value)


def set_paused(
    session: Session, paused: bool, *, by: str, reason: str | None, now: datetime | None = None
) -> None:
    """Set the kill switch of automated response."""
    row = session.get(CatalogSwitchRow, PAUSED)
    at = now or datetime.now(UTC)
    if row is None:
        session.add(
            CatalogSwitchRow(name=PAUSED, value=paused, changed_by=by, changed_at=at, reason=reason)
        )
    else:
        row.value, row.changed_by, row.changed_at, row.reason = paused, by, at, reason
    session.flush()


def alert_to_json(row: AlertRow) -> dict[str, Any]:
    """An alert record as the CLI and the API show it."""
    return {
        "id": row.id,
        "source": row.source,
        "fingerprint": row.fingerprint,
        "starts_at": row.starts_at.isoformat(),
        "status": row.status,
        "labels": dict(row.labels),
        "annotations": dict(row.annotations),
        "service": row.service,
        "code": row.code,
        "rule": row.rule,
        "catalog_revision": row.catalog_revision,
        "action": row.action,
        "detail": row.detail,
        "plan_id": row.plan_id,
        "run_id": row.run_id,
        "received_at": row.received_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }
