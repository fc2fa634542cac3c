"""Where the artifacts of runs are kept for every server and client: a folder or a bucket.

An artifact is a file of a run's folder (its executed notebook, ``log.jsonl``, its reports),
named by a key ``<run-id>/<file>``: the layout of the repository's ``runs/`` folder, so the
default store *is* that folder and a run's files need no copy there. A configured folder (a
shared mount) or an fsspec URL (``s3://bucket/prefix`` through s3fs, any S3-compatible
endpoint) holds copies every ``runbook serve`` and ``runbook export`` can read, whichever
machine and checkout executed the run.

Keys are checked before they name anything (:func:`checked_key`): a key from a request can
neither leave the store's root nor name a hidden file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Protocol

from runbook.errors import PathEscapeError

#: One or more path segments of safe characters, none of them hidden (``.``, ``..``, ``.x``).
_KEY: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def checked_key(key: str) -> str:
    """``key`` when it is a safe relative key; PathEscapeError otherwise."""
    if len(key) > 512 or not _KEY.fullmatch(key):
        raise PathEscapeError(key, "is not an artifact key (segments of letters, digits, ._-)")
    return key


class ArtifactStore(Protocol):
    """Put, get, list and test artifacts by key."""

    #: Where it is, for messages (a folder or a URL; never a credential).
    location: str

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there, all or nothing."""

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``; None when there are none."""

    def exists(self, key: str) -> bool:
        """Whether something is stored under ``key``."""

    def list(self, prefix: str) -> list[str]:
        """The keys under the folder ``prefix`` (``<run-id>``), sorted."""


class LocalArtifacts:
    """A folder: the repository's ``runs/`` by default, or a shared mount."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.location = str(folder)

    def _path(self, key: str) -> Path:
        return self.folder / checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        """Write atomically (a reader sees the old bytes or the new, never half)."""
        path = self._path(key)
        if path.is_symlink():
            raise PathEscapeError(key, "is a symbolic link in the artifact folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, data)

    def get(self, key: str) -> bytes | None:
        """The file's bytes (a symbolic link is not followed: it could point anywhere)."""
        path = self._path(key)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError:  # ELOOP: a symbolic link
            return None
        with os.fdopen(descriptor, "rb") as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        """Whether the file exists (and is a regular file, not a link)."""
        path = self._path(key)
        return path.is_file() and not path.is_symlink()

    def list(self, prefix: str) -> list[str]:
        """The regular files of the folder ``prefix``."""
        folder = self._path(prefix)
        if not folder.is_dir() or folder.is_symlink():
            return []
        return sorted(
            f"{prefix}/{entry.name}"
            for entry in folder.iterdir()
            if _KEY.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()
        )


def _write_atomic(path: Path, data: bytes) -> None:
    """Through a synced temporary file in the same folder, then renamed."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FsspecArtifacts:
    """An fsspec file system under a URL (``s3://bucket/prefix``, ``memory://…``)."""

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        import fsspec  # type: ignore[import-untyped]  # lazily: fast commands never pay for it

        self.location = url
        self._fs, root = fsspec.core.url_to_fs(url, **dict(options or {}))
        self._root = str(root).rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self._root}/{checked_key(key)}"

    def put(self, key: str, data: bytes) -> None:
        """One object write: an object store replaces an object whole."""
        self._fs.pipe_file(self._path(key), data)

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is none."""
        try:
            data: bytes = self._fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None
        return data

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return bool(self._fs.isfile(self._path(key)))

    def list(self, prefix: str) -> list[str]:
        """The objects right under ``prefix/``."""
        folder = self._path(prefix)
        try:
            names = self._fs.ls(folder, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(f"{prefix}/{str(name).rsplit('/', 1)[-1]}" for name in names)
