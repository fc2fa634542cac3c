"""The repository's own Python code a plan's kernel can import, and its sha256 manifest.

An approval covers the plan's notebook, but a cell can ``import rbhelper`` from the
repository: if the module could change after review, the approval would not cover what runs.
So a plan records every module file the kernel can import from inside the repository, with
its sha256, in the plan notebook's metadata (which the plan's own sha256 covers), and a plan
whose modules changed, appeared or disappeared since planning does not run.

What counts as importable, deliberately broad: every file with an import suffix (``.py``,
sourceless ``.pyc``, extension modules) under each *import root*, recursively, since any
folder is a namespace package and a cell may put any folder on ``sys.path``. The import
roots are the repository's root (which holds the kernel's working directory, first on its
path; see :mod:`runbook.model.working_dir`) and every ``PYTHONPATH`` entry inside the
repository, a relative one read from the root (the kernel's environment gets them so,
see ``runbook.engine.launch``). Skipped: ``__pycache__`` (kernels keep
their bytecode elsewhere, see ``runbook.engine.launch``), version-control folders, the
repository's ``.runbook/`` state and ``runs/`` outputs, and virtualenvs (installed packages
are the environment's, not the repository's). Symlinked folders are not followed; a
symlinked file is hashed through its link.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from importlib import machinery
from pathlib import Path

#: File endings Python imports from a folder on ``sys.path``.
IMPORT_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {*machinery.SOURCE_SUFFIXES, *machinery.BYTECODE_SUFFIXES, *machinery.EXTENSION_SUFFIXES},
        key=len,
        reverse=True,
    )
)
_SKIPPED_FOLDERS = frozenset({"__pycache__", ".git", ".hg", ".svn"})

#: A manifest: repository-relative POSIX path -> sha256 hex digest.
Manifest = dict[str, str]


def import_roots(root: Path, pythonpath: str | None = None) -> list[Path]:
    """The folders (and zip files) inside the repository the kernel imports from."""
    base = root.resolve()
    roots = [base]
    for entry in (pythonpath or "").split(os.pathsep):
        if not entry:
            continue
        candidate = (base / entry).resolve()  # a relative entry is read from the root
        if candidate.is_relative_to(base) and candidate not in roots and candidate.exists():
            roots.append(candidate)
    return roots


def module_manifest(
    root: Path, *, pythonpath: str | None = None, skip: tuple[Path, ...] = ()
) -> Manifest:
    """The sha256 of every importable file under the repository's import roots.

    ``skip`` names folders inside the repository that never hold code to import (its state
    and run outputs); they are still walked when a ``PYTHONPATH`` entry names them.
    """
    base = root.resolve()
    skipped = {path.resolve() for path in skip}
    manifest: Manifest = {}
    for start in import_roots(base, pythonpath):
        for path in _importable_files(start, skipped - {start}):
            manifest[path.relative_to(base).as_posix()] = file_sha256(path)
    return dict(sorted(manifest.items()))


def unwalked(root: Path, folder: Path, skip: tuple[Path, ...] = ()) -> str | None:
    """Why the walk of ``root`` never reaches the files of ``folder``, or None when it does.

    A kernel's working directory must be reached: it is first on the kernel's path.
    """
    base = root.resolve()
    here = folder.resolve()
    for skipped in skip:
        if here.is_relative_to(skipped.resolve()):
            return f"is inside {skipped.resolve().relative_to(base).as_posix()}/"
    for part in here.relative_to(base).parts:
        if part in _SKIPPED_FOLDERS:
            return f"is inside a {part} folder"
    for above in (here, *here.parents):
        if above == base:
            break
        if (above / "pyvenv.cfg").exists():
            return "is inside a virtualenv"
    return None


def manifest_changes(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """What differs, one phrase per file, sorted by path: ``x.py changed`` / added / removed."""
    changes = []
    for path in sorted({*recorded, *current}):
        if path not in current:
            changes.append(f"{path} removed")
        elif path not in recorded:
            changes.append(f"{path} added")
        elif recorded[path] != current[path]:
            changes.append(f"{path} changed")
    return changes


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file's bytes; ``unreadable`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 16), b""):
                digest.update(block)
    except OSError:  # the kernel cannot import it either; a later change still shows
        return "unreadable"
    return digest.hexdigest()


def _importable_files(start: Path, skipped: set[Path]) -> Iterator[Path]:
    if start.is_file():  # a zip archive on PYTHONPATH
        yield start
        return
    for folder, subfolders, files in os.walk(start):
        here = Path(folder)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in _SKIPPED_FOLDERS
            and (here / name) not in skipped
            and not (here / name / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(IMPORT_SUFFIXES) and (here / name).is_file():
                yield here / name
