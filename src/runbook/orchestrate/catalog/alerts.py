"""Receiving an alert: recorded once, matched to the catalog, answered by its policy.

:func:`receive_alert` is what every edge calls (the webhooks, tests, benchmarks) with an
alert its payload parser made. Receiving is idempotent on ``(source, fingerprint,
starts_at)``: a repeated delivery creates nothing and does nothing again; a ``resolved``
one stamps the record's resolution. A new firing alert is matched
(:mod:`runbook.model.catalog.alert_matching`, :mod:`runbook.model.catalog.resolution`) and
recorded with its service, code and rule, or as a catalog gap; then its procedure's policy
is applied (:mod:`runbook.orchestrate.catalog.response`), and ``alert.answered`` audited.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import UnknownCatalogEntryError
from runbook.model.audit import EventKind
from runbook.model.catalog.alert_matching import match_alert
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.catalog.resolution import Resolution, resolve
from runbook.model.repository import Repository
from runbook.orchestrate.catalog.catalog_files import catalog_in_use
from runbook.orchestrate.catalog.response import Answer, answer_alert
from runbook.store.audit import append_event
from runbook.store.catalog_records import receive_alert_row
from runbook.store.catalog_tables import AlertRow

#: Who the audit log says acted on an alert (the rule's caller names the procedure).
ALERT_ACTOR = "catalog"


@dataclass(frozen=True)
class Received:
    """What receiving one alert did. ``run`` is the thread starting its automated run."""

    alert_id: str
    created: bool
    action: str
    detail: str
    run: threading.Thread | None = None


def alert_subject(alert_id: str) -> str:
    """The subject of the events about an alert: ``alert:<id>``."""
    return f"alert:{alert_id}"


def receive_alert(
    sessions: sessionmaker[Session],
    repository: Repository,
    alert: Alert,
    *,
    now: datetime | None = None,
) -> Received:
    """Record ``alert`` once and answer it (see the module docstring)."""
    at = now or datetime.now(UTC)
    with sessions.begin() as session:
        row, created = receive_alert_row(session, alert, now=at)
        if not created:
            if alert.status == "resolved" and row.resolved_at is None:
                row.status, row.resolved_at = "resolved", at
            return Received(row.id, False, row.action, row.detail)
        alert_id = row.id
        if alert.status == "resolved":
            row.action, row.detail = "none", "resolved before a firing alert was received"
            return Received(alert_id, True, row.action, row.detail)
        resolution = _match(session, repository, row, alert)
    if resolution is None or resolution.winner is None:
        with sessions.begin() as session:
            done = session.get(AlertRow, alert_id)
            assert done is not None  # noqa: S101 - recorded above
            _audit(session, done)
            return Received(alert_id, True, done.action, done.detail)
    answer = answer_alert(sessions, repository, alert_id, alert, resolution, now=at)
    with sessions.begin() as session:
        answered = session.get(AlertRow, alert_id)
        assert answered is not None  # noqa: S101 - recorded above
        _audit(session, answered)
    return _received(alert_id, answer)


def _received(alert_id: str, answer: Answer) -> Received:
    return Received(alert_id, True, answer.action, answer.detail, answer.run)


def _match(
    session: Session, repository: Repository, row: AlertRow, alert: Alert
) -> Resolution | None:
    """Fill the record's service, code and rule; None when it is a gap or suppressed."""
    config = repository.config
    try:
        revision, catalog = catalog_in_use(session)
    except UnknownCatalogEntryError:
        row.action, row.detail = "gap", "no catalog imported (`runbook catalog import`)"
        return None
    row.catalog_revision = revision.revision
    matched = match_alert(
        catalog, alert, code_label=config.catalog_code_label, base_url=config.catalog_base_url
    )
    row.code = matched.code
    if matched.service is None:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or "no labels"
        row.action, row.detail = "gap", f"no service in the catalog has these labels ({shown})"
        return None
    row.service = matched.service.name
    if matched.code is None:
        row.action = "gap"
        row.detail = (
            f"no error code: no {config.catalog_code_label} label, runbook_url or alertname"
        )
        return None
    resolution = resolve(catalog, matched.service, matched.code, alert.labels)
    if resolution.suppressed_by is not None:
        row.rule = resolution.suppressed_by.name
        row.action, row.detail = "suppressed", f"suppressed by {resolution.suppressed_by.name}"
        return None
    if resolution.winner is None:
        row.action = "gap"
        row.detail = f"no procedure for {matched.code} on {matched.service.name}"
        return None
    row.rule = resolution.winner.name
    return resolution


def _audit(session: Session, row: AlertRow) -> None:
    append_event(
        session,
        kind=EventKind.ALERT_ANSWERED,
        actor=ALERT_ACTOR,
        subject=alert_subject(row.id),
        payload={
            "source": row.source,
            "fingerprint": row.fingerprint,
            "service": row.service,
            "code": row.code,
            "rule": row.rule,
            "action": row.action,
            "detail": row.detail,
            "plan": row.plan_id,
        },
    )
