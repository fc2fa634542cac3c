"""Record functions for playbook definitions: the revisions ``runbook playbook import`` stores.

A revision is immutable once stored; a run freezes the one it runs
(``store.playbooks.playbook_runs``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runbook.errors import UnknownPlaybookError
from runbook.model.playbooks.playbook_run import PlaybookDefinition, definition_sha256
from runbook.store.revisions import append_revision
from runbook.store.tables import PlaybookDefinitionRow


def import_definition(
    session: Session,
    *,
    definition: dict[str, Any],
    source: str,
    git_commit: str | None,
    dirty: bool | None,
    imported_by: str,
    now: datetime | None = None,
) -> tuple[PlaybookDefinition, bool]:
    """Store ``definition`` (``playbook_to_json`` of a spec) as the next revision of its name.

    Returns ``(revision, created)``. When the newest revision holds the same content (same
    sha256 of the canonical JSON) nothing is stored and that revision is returned with
    ``created`` False, whatever the commit or file it came from this time.
    """
    name = str(definition["name"])
    sha = definition_sha256(definition)

    def make_row(number: int) -> PlaybookDefinitionRow:
        return PlaybookDefinitionRow(
            name=name,
            revision=number,
            version=str(definition["version"]),
            definition=definition,
            sha256=sha,
            source=source,
            git_commit=git_commit,
            dirty=dirty,
            imported_by=imported_by,
            imported_at=now or datetime.now(UTC),
        )

    row, created = append_revision(
        session, sha, lambda: _newest(session, name), make_row, f"playbook {name}"
    )
    return _to_definition(row), created


def _newest(session: Session, name: str) -> PlaybookDefinitionRow | None:
    query = (
        select(PlaybookDefinitionRow)
        .where(PlaybookDefinitionRow.name == name)
        .order_by(PlaybookDefinitionRow.revision.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def get_definition(
    session: Session, name: str, *, version: str | None = None, revision: int | None = None
) -> PlaybookDefinition:
    """The newest revision of playbook ``name`` (declaring ``version``, or number ``revision``).

    Raises UnknownPlaybookError naming what exists when nothing matches.
    """
    query = select(PlaybookDefinitionRow).where(PlaybookDefinitionRow.name == name)
    if version is not None:
        query = query.where(PlaybookDefinitionRow.version == version)
    if revision is not None:
        query = query.where(PlaybookDefinitionRow.revision == revision)
    row = session.scalars(query.order_by(PlaybookDefinitionRow.revision.desc()).limit(1)).first()
    if row is not None:
        return _to_definition(row)
    known = list_revisions(session, name)
    if not known:
        raise UnknownPlaybookError(name)
    if version is not None:
        versions = ", ".join(dict.fromkeys(d.version for d in known))
        raise UnknownPlaybookError(name, f"no version {version!r}; imported: {versions}")
    raise UnknownPlaybookError(name, f"no revision {revision}; it has 1 to {known[0].revision}")


def list_definitions(session: Session) -> list[PlaybookDefinition]:
    """The newest revision of every imported playbook, by name."""
    newest = (
        select(
            PlaybookDefinitionRow.name,
            func.max(PlaybookDefinitionRow.revision).label("revision"),
        )
        .group_by(PlaybookDefinitionRow.name)
        .subquery()
    )
    query = (
        select(PlaybookDefinitionRow)
        .join(
            newest,
            (PlaybookDefinitionRow.name == newest.c.name)
            & (PlaybookDefinitionRow.revision == newest.c.revision),
        )
        .order_by(PlaybookDefinitionRow.name)
    )
    return [_to_definition(row) for row in session.scalars(query)]


def list_revisions(session: Session, name: str) -> list[PlaybookDefinition]:
    """Every imported revision of playbook ``name``, newest first."""
    query = (
        select(PlaybookDefinitionRow)
        .where(PlaybookDefinitionRow.name == name)
        .order_by(PlaybookDefinitionRow.revision.desc())
    )
    return [_to_definition(row) for row in session.scalars(query)]


def playbook_names(session: Session, prefix: str = "") -> list[str]:
    """Imported playbook names starting with ``prefix``, sorted (for shell completion)."""
    query = (
        select(PlaybookDefinitionRow.name)
        .where(PlaybookDefinitionRow.name.startswith(prefix, autoescape=True))
        .distinct()
    )
    return sorted(session.scalars(query))


# ---------------------------------------------------------------------------------------------
# Runs and targets


def _to_definition(row: PlaybookDefinitionRow) -> PlaybookDefinition:
    return PlaybookDefinition(
        name=row.name,
        revision=row.revision,
        version=row.version,
        definition=dict(row.definition),
        sha256=row.sha256,
        source=row.source,
        git_commit=row.git_commit,
        dirty=row.dirty,
        imported_by=row.imported_by,
        imported_at=row.imported_at,
    )
