"""The catalog's files: validating ``catalog/*.yml`` against the repository, and importing it.

Validation adds to the files' own checks (:mod:`runbook.model.catalog.catalog_parse`) what
needs the repository: a procedure's runbook must exist, and every parameter it maps must
be one the runbook declares. ``import`` stores a revision with the git commit, as
playbooks do (:mod:`runbook.orchestrate.playbooks.playbook_import`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from runbook.errors import RunbookError, SpecError, UsageError
from runbook.model.audit import EventKind
from runbook.model.catalog.catalog import Catalog, catalog_from_json, catalog_to_json
from runbook.model.catalog.catalog_parse import parse_catalog_files
from runbook.model.files import read_failure, read_text
from runbook.model.notebook import load_runbook
from runbook.model.repository import Repository
from runbook.orchestrate.playbooks.playbook_import import git_state
from runbook.store.audit import append_event
from runbook.store.catalog_records import (
    CatalogRevision,
    newest_revision,
    newest_sha256,
    store_revision,
)

CATALOG_DIR = "catalog"


def catalog_files(repository: Repository) -> list[Path]:
    """The catalog's YAML files, in name order (the order rules tie-break on)."""
    folder = repository.root / CATALOG_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def validate_catalog(repository: Repository) -> tuple[Catalog, list[SpecError]]:
    """The catalog in ``catalog/`` and every error in it, each at its file and YAML path."""
    texts: list[tuple[str, str]] = []
    errors: list[SpecError] = []
    for path in catalog_files(repository):
        where = repository.relative(path)
        try:
            texts.append((where, read_text(path)))
        except (OSError, ValueError) as error:
            errors.append(SpecError(where, f"cannot read it: {read_failure(error)}"))
    catalog, problems = parse_catalog_files(texts)
    errors += problems
    for rule in catalog.procedures:
        if rule.runbook is None:
            continue
        try:
            path = repository.find_runbook(rule.runbook)
            declared = load_runbook(path, repository.relative(path)).parameters
        except RunbookError as error:
            errors.append(SpecError(f"{rule.where}.runbook", str(error)))
            continue
        for name in rule.parameters:
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                errors.append(
                    SpecError(
                        f"{rule.where}.parameters.{name}",
                        f"{rule.runbook} declares no parameter {name!r} (it declares: {known})",
                    )
                )
    return catalog, errors


@dataclass(frozen=True)
class CatalogImport:
    """The revision an import stored, or the identical newest one (``created`` False)."""

    revision: CatalogRevision
    created: bool
    catalog: Catalog


def import_catalog(session: Session, repository: Repository, *, imported_by: str) -> CatalogImport:
    """Validate ``catalog/`` and store it as the next revision, with its git commit.

    Raises the first SpecError (saying how many more there are) when it is invalid, and
    UsageError when there are no catalog files.
    """
    files = catalog_files(repository)
    if not files:
        raise UsageError(f"{CATALOG_DIR}/: no catalog files (*.yml) to import")
    catalog, errors = validate_catalog(repository)
    if errors:
        more = (
            f" (and {len(errors) - 1} more; see `runbook catalog validate`)"
            if len(errors) > 1
            else ""
        )
        raise SpecError(errors[0].where, errors[0].reason + more)
    commits = [git_state(repository.root, path) for path in files]
    commit = commits[0][0]
    dirty = None if commit is None and commits[0][1] is None else any(d for _, d in commits)
    revision, created = store_revision(
        session,
        catalog_to_json(catalog),
        source=f"{CATALOG_DIR}/",
        git_commit=commit,
        dirty=dirty,
        imported_by=imported_by,
    )
    if created:
        append_event(
            session,
            kind=EventKind.CATALOG_IMPORTED,
            actor=imported_by,
            subject="catalog",
            payload={
                "revision": revision.revision,
                "sha256": revision.sha256,
                "git_commit": revision.git_commit,
                "dirty": revision.dirty,
                "source": revision.source,
            },
        )
    return CatalogImport(revision, created, catalog)


def catalog_in_use(session: Session) -> tuple[CatalogRevision, Catalog]:
    """The newest imported revision and its catalog (read and parsed once per content)."""
    sha = newest_sha256(session)
    cached = _PARSED.get(sha) if sha is not None else None
    if cached is not None:
        return cached
    revision = newest_revision(session)
    found = (revision, catalog_from_json(revision.definition))
    if len(_PARSED) >= 8:
        _PARSED.clear()
    _PARSED[revision.sha256] = found
    return found


#: Parsed catalogs by content hash: a lookup or an alert does not parse the catalog again.
_PARSED: dict[str, tuple[CatalogRevision, Catalog]] = {}
