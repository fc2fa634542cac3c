"""Importing a playbook file into the store as a revision, with the git commit it came from."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from runbook.errors import SpecError, UsageError
from runbook.model.files import read_failure, read_text
from runbook.model.playbooks.playbook import (
    load_playbook,
    playbook_to_json,
    validate_playbook,
)
from runbook.model.playbooks.playbook_run import (
    PlaybookDefinition,
)
from runbook.model.repository import Repository
from runbook.store.playbooks.playbook_definitions import (
    import_definition,
)


@dataclass(frozen=True)
class ImportResult:
    """The revision an import stored, or the identical newest one (``created`` False)."""

    definition: PlaybookDefinition
    created: bool


def import_playbook(
    session: Session,
    repository: Repository,
    file: str,
    *,
    imported_by: str,
    base: Path | None = None,
) -> ImportResult:
    """Validate playbook ``file`` (inside the repository) and store it as a new revision.

    Raises UsageError when the file is outside the repository or unreadable, and the first
    SpecError (with its YAML path, and how many more there are) when it is invalid.
    """
    path = repository.resolve(file, base=base)
    where = repository.relative(path)
    try:
        text = read_text(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"{where}: cannot read the playbook: {read_failure(error)}") from None
    errors = validate_playbook(text, where)
    if len(errors) > 1:
        first = errors[0]
        inside = first.where == where or first.where.startswith(f"{where}:")
        more = f" (and {len(errors) - 1} more; see `runbook playbook validate {where}`)"
        raise SpecError(first.where if inside else f"{where}: {first.where}", first.reason + more)
    spec = load_playbook(text, where)
    commit, dirty = git_state(repository.root, path)
    definition, created = import_definition(
        session,
        definition=playbook_to_json(spec),
        source=where,
        git_commit=commit,
        dirty=dirty,
        imported_by=imported_by,
    )
    return ImportResult(definition, created)


def git_state(root: Path, path: Path) -> tuple[str | None, bool | None]:
    """``(HEAD commit, file differs from it)`` of the git repository at ``root``.

    ``(None, None)`` outside git; ``(None, True)`` in a repository without commits. An
    untracked or ignored file is dirty: the commit does not hold it.
    """

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    inside = git("rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != "true":
        return None, None
    head = git("rev-parse", "--verify", "--quiet", "HEAD")
    commit = head.stdout.strip() if head is not None and head.returncode == 0 else None
    status = git("status", "--porcelain", "--ignored", "--", str(path))
    dirty = status is None or status.returncode != 0 or bool(status.stdout.strip())
    return commit or None, dirty or commit is None
