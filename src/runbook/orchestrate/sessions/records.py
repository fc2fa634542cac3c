"""Session records in the repository's state folder: one JSON file per session.

A file, not the store: a session lives on one machine, with its server and its worktree,
and its record must outlive the service that started it, so that the next one sees a
session whose server is gone as stopped and autosaves what it left.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from runbook.model.sessions import SessionRecord, user_slug


class SessionRecords:
    """The records under ``folder`` (``<state>/sessions/records/<user>/<name>.json``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, owner_key: str, name: str) -> Path:
        return self.folder / user_slug(owner_key) / f"{name}.json"

    def save(self, record: SessionRecord) -> None:
        """Write ``record``, whole or not at all (a temporary file renamed over it)."""
        path = self._path(record.owner_key, record.name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record.to_json(), stream, indent=1)
        os.replace(temporary, path)

    def get(self, owner_key: str, name: str) -> SessionRecord | None:
        """The record of ``owner_key``'s session ``name``, or None."""
        path = self._path(owner_key, name)
        return _read(path) if path.is_file() else None

    def all(self) -> list[SessionRecord]:
        """Every record, oldest first; a file that cannot be read is skipped."""
        found = [_read(path) for path in self.folder.glob("*/*.json")]
        return sorted((r for r in found if r is not None), key=lambda r: r.started_at)


def _read(path: Path) -> SessionRecord | None:
    try:
        return SessionRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
