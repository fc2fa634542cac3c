"""What the catalog answers, as the CLI and the API show it: entries, why, gaps, the switch.

Every function reads the catalog in use (the newest imported revision) and returns plain
JSON-ready data, so every edge shows the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from runbook.errors import UnknownCatalogEntryError
from runbook.model.audit import EventKind
from runbook.model.catalog.alert_matching import entry_url
from runbook.model.catalog.catalog import Catalog, Procedure, Service
from runbook.model.catalog.resolution import Resolution, resolve
from runbook.orchestrate.catalog.catalog_files import catalog_in_use
from runbook.store.audit import append_event
from runbook.store.catalog_records import alert_to_json, is_paused, list_alerts, set_paused

CATALOG_SUBJECT = "catalog"


def _service(catalog: Catalog, name: str) -> Service:
    service = catalog.services.get(name)
    if service is None:
        raise UnknownCatalogEntryError(f"service {name}")
    return service


def procedure_json(rule: Procedure) -> dict[str, Any]:
    """A procedure as shown."""
    return {
        "name": rule.name,
        "for": rule.scope,
        "code": rule.code,
        "code_pattern": rule.code_pattern,
        "mode": rule.mode,
        "match": [m.describe() for m in rule.matchers],
        "runbook": rule.runbook,
        "parameters": dict(rule.parameters),
        "policy": rule.policy,
        "where": rule.where,
    }


def lookup(
    session: Session, service: str, code: str, labels: Mapping[str, str] | None = None
) -> Resolution:
    """The resolution of ``code`` for ``service`` in the catalog in use."""
    _, catalog = catalog_in_use(session)
    return resolve(catalog, _service(catalog, service), code, labels)


def entry(
    session: Session,
    service: str,
    code: str,
    *,
    base_url: str = "",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The catalog entry for (service, code): the service, the code, the answer, and why."""
    revision, catalog = catalog_in_use(session)
    found = _service(catalog, service)
    resolution = resolve(catalog, found, code, labels)
    described = catalog.codes.get(code)
    return {
        "service": service_json(found),
        "code": code,
        "error_code": vars(described).copy() if described else None,
        "procedure": procedure_json(resolution.winner) if resolution.winner else None,
        "also": [procedure_json(p) for p in resolution.also],
        "suppressed_by": resolution.suppressed_by.name if resolution.suppressed_by else None,
        "gap": resolution.is_gap,
        "candidates": [
            {"rule": c.procedure.name, "for": c.procedure.scope, "verdict": c.verdict}
            for c in resolution.candidates
        ],
        "catalog_revision": revision.revision,
        "url": entry_url(base_url, service, code) if base_url else None,
    }


def service_json(service: Service) -> dict[str, Any]:
    """A service as shown."""
    return {
        "name": service.name,
        "owner": service.owner,
        "team": service.team,
        "tier": service.tier,
        "tags": list(service.tags),
        "links": dict(service.links),
        "labels": dict(service.identifying_labels()),
    }


def list_catalog(session: Session) -> dict[str, Any]:
    """The catalog in use: its revision, services, error codes and procedures."""
    revision, catalog = catalog_in_use(session)
    return {
        "revision": revision.revision,
        "git_commit": revision.git_commit,
        "dirty": revision.dirty,
        "imported_by": revision.imported_by,
        "imported_at": revision.imported_at.isoformat(),
        "paused": is_paused(session),
        "services": [service_json(s) for s in catalog.services.values()],
        "error_codes": [vars(c).copy() for c in catalog.codes.values()],
        "procedures": [procedure_json(p) for p in catalog.procedures],
    }


def show_service(session: Session, name: str) -> dict[str, Any]:
    """One service and the procedures that apply to it (its own, its tags', the platform's)."""
    _, catalog = catalog_in_use(session)
    service = _service(catalog, name)
    applying = [
        procedure_json(p)
        for p in catalog.procedures
        if p.scope == "*" or p.scope == f"service:{name}" or p.scope_name in service.tags
    ]
    return {**service_json(service), "procedures": applying}


def gaps(session: Session, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The newest alerts the catalog had no procedure for."""
    found = list_alerts(session, action="gap", limit=limit, offset=offset)
    return [alert_to_json(row) for row in found]


def alerts(
    session: Session, *, action: str | None = None, limit: int = 100, **filters: Any
) -> list[dict[str, Any]]:
    """The newest alert records (``filters``: offset, service, code, status)."""
    found = list_alerts(session, action=action, limit=limit, **filters)
    return [alert_to_json(row) for row in found]


def pause(session: Session, *, by: str, reason: str | None = None) -> None:
    """Pause every automated response (the kill switch); audited."""
    set_paused(session, True, by=by, reason=reason)
    append_event(
        session,
        kind=EventKind.CATALOG_PAUSED,
        actor=by,
        subject=CATALOG_SUBJECT,
        payload={"reason": reason},
    )


def resume(session: Session, *, by: str) -> None:
    """Resume automated response; audited."""
    set_paused(session, False, by=by, reason=None)
    append_event(
        session, kind=EventKind.CATALOG_RESUMED, actor=by, subject=CATALOG_SUBJECT, payload={}
    )
