"""Writing files so that a crash leaves the old content or the new, never half of either.

Only the standard library is imported here: ``runbook strip`` runs on every ``git add``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

#: Largest text file Runbook reads as input (config, YAML): far above any real one, far
#: below what would exhaust memory.
MAX_TEXT_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileText:
    """A file's text as it was read, to be checked and used without reading it again."""

    path: Path
    text: str


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


def notebook_json(notebook: Mapping[str, Any]) -> str:
    """A notebook as JSON text in Jupyter's own layout (sorted keys, one-space indent).

    Cheaper than ``nbformat.writes``, which validates the whole notebook on every call: the
    engine saves after every cell.
    """
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """Hold an advisory lock on ``path`` (created if need be) for the ``with`` block.

    Yields True when the lock is held; with ``wait=False`` yields False at once when another
    process holds it in a conflicting mode. The kernel releases the lock when its holder
    dies, even by kill -9, so a crash never leaves it stuck.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(descriptor, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock


def sync_folder(folder: Path) -> None:
    """Make the renames and removals in ``folder`` durable (fsync the directory itself)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path``, refused past ``limit`` bytes.

    Raises OSError when it cannot be read, ValueError (with a readable reason) when it is
    too large or not UTF-8; :func:`read_failure` turns either into a short phrase.
    """
    with path.open("rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (invalid byte at offset {error.start})") from None


def read_failure(error: OSError | ValueError) -> str:
    """Why :func:`read_text` failed, as a short phrase."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)
