"""A repository with a catalog and its runbooks, for the catalog's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import nbformat
import yaml
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.repository import Repository, find_repository
from runbook.model.standing import parse_bound
from runbook.orchestrate.catalog.catalog_files import import_catalog
from runbook.orchestrate.standing_approvals import approve_standing
from runbook.store.db import ensure_schema, make_engine
from tests.builders import write_runbook

CATALOG: dict[str, Any] = {
    "services": [
        {"name": "checkout", "team": "payments", "tags": ["java"]},
        {"name": "billing", "team": "payments"},
    ],
    "error_codes": [{"code": "E-DISK", "title": "Disk almost full", "severity": "critical"}],
    "procedures": [
        {
            "name": "disk-platform",
            "code": "E-DISK",
            "runbook": "clean",
            "parameters": {"host": "{{ labels.instance }}"},
            "policy": "manual",
        },
        {
            "name": "disk-checkout",
            "code": "E-DISK",
            "for": "service:checkout",
            "runbook": "clean",
            "parameters": {"host": "{{ labels.instance }}"},
            "policy": "auto",
        },
    ],
}


def write_catalog(repo: Repository, catalog: dict[str, Any] | None = None) -> None:
    (repo.root / "catalog" / "catalog.yml").write_text(yaml.safe_dump(catalog or CATALOG))


def write_clean_runbook(repo: Repository, *, critical: bool = True) -> None:
    """``clean``: writes ``<host>.cleaned`` in a confirm cell; needs review when critical."""
    path = write_runbook(
        repo.runbooks_dir / "clean.ipynb",
        [
            ("code", "host = 'none'", ["parameters"]),
            (
                "code",
                "from pathlib import Path\nPath(f'{host}.cleaned').write_text('1')",
                ["confirm"],
            ),
        ],
        parameters={"host": {"type": "str", "required": True}},
    )
    if critical:
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["runbook"]["tags"] = ["critical"]
        nbformat.write(notebook, path)


def catalog_repo(repo: Repository, catalog: dict[str, Any] | None = None) -> Repository:
    write_clean_runbook(repo)
    write_catalog(repo, catalog)
    fresh = find_repository(repo.root)
    with sessions_of(fresh) as sessions, sessions.begin() as session:
        import_catalog(session, fresh, imported_by="alice")
    return fresh


@contextmanager
def sessions_of(repo: Repository) -> Iterator[sessionmaker[Session]]:
    """A session factory on the repository's SQLite store."""
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def grant(session: Session, repo: Repository, bound: str = "host=~web[0-9]+") -> None:
    approve_standing(
        session,
        repo,
        "clean",
        reviewer="bob",
        callers=("catalog:disk-checkout",),
        bounds=dict([parse_bound(bound)]),
        lifetime=timedelta(days=1),
        confirm_unattended=True,
    )


def alert(
    *,
    service: str = "checkout",
    instance: str = "web1",
    fingerprint: str = "f1",
    status: str = "firing",
    at: datetime | None = None,
    **labels: str,
) -> Alert:
    return Alert(
        source="alertmanager",
        fingerprint=fingerprint,
        starts_at=at or datetime(2026, 12, 4, 1, 0, tzinfo=UTC),
        status=status,  # type: ignore[arg-type]
        labels={"service": service, "instance": instance, "error_code": "E-DISK", **labels},
        annotations={"summary": "disk"},
    )
