"""Writing files so that a crash leaves the old content or the new, never half of either.

Only the standard library is imported here: ``runbook strip`` runs on every ``git add``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    """Write text to ``path`` through a temporary file in the same folder, then rename.

    A killed process leaves the old content or the new. ``durable`` also syncs the data to
    disk first, so a power cut does too; saves repeated every few moments can skip it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def notebook_json(notebook: Any) -> str:
    """A notebook as JSON text in Jupyter's own layout (sorted keys, one-space indent).

    Cheaper than ``nbformat.writes``, which validates the whole notebook on every call: the
    engine saves after every cell.
    """
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
