"""The kernel's bytecode: private to each run for the repository's code, shared for the rest.

A kernel keeps its bytecode in its run's folder (``PYTHONPYCACHEPREFIX``), never reading a
``__pycache__`` inside the repository, where a planted ``.pyc`` whose header matches a
reviewed module's source would run instead of it. A fresh folder for every run would also
recompile IPython, ipykernel and everything else they import (about a second of every
kernel's start), so the bytecode of what lies outside the repository is kept in
``.runbook/pycache/`` and linked into each run's folder before the kernel starts. The
repository's own modules are never in it: they are compiled from source in every run.

Nothing a kernel wrote goes into the shared folder: after a run, the modules its kernel
compiled (outside the repository) are compiled again here, from their sources, by us, and
those files are what later kernels read; a kernel of another user cannot change them.
"""

from __future__ import annotations

import contextlib
import os
import py_compile
import sys
from pathlib import Path
from typing import Final

#: The shared bytecode of what lies outside the repository, under ``.runbook/``.
SHARED_FOLDER: Final = "pycache"


def seed(prefix: Path, state_dir: Path, repo_root: Path) -> None:
    """Link the shared bytecode, except the repository's, into a run's ``prefix``."""
    shared = state_dir / SHARED_FOLDER
    if not shared.is_dir():
        return
    own = _mirror(shared, repo_root)
    for folder, subfolders, files in os.walk(shared):
        here = Path(folder)
        if here == own:
            subfolders.clear()
            continue
        subfolders[:] = [name for name in subfolders if here / name != own]
        target = prefix / here.relative_to(shared)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            with contextlib.suppress(OSError):  # a file going as we look: compiled again
                os.link(here / name, target / name)


def adopt(prefix: Path, state_dir: Path, repo_root: Path) -> None:
    """After a run: compile into the shared folder what its kernel compiled and it lacks."""
    if not prefix.is_dir():
        return
    shared = state_dir / SHARED_FOLDER
    own = _mirror(prefix, repo_root)
    suffix = f".{sys.implementation.cache_tag}.pyc"
    for written in prefix.rglob(f"*{suffix}"):
        if own in written.parents or written.name.count(".") != suffix.count("."):
            continue  # the repository's, or optimized (-O) bytecode
        relative = written.relative_to(prefix)
        target = shared / relative
        source = Path("/", relative.parent, written.name.removesuffix(suffix) + ".py")
        if not source.is_file() or (target.exists() and os.path.samefile(written, target)):
            continue  # gone, or the kernel read ours (a file it compiled anew replaces it)
        with contextlib.suppress(OSError, py_compile.PyCompileError, ValueError):
            target.parent.mkdir(parents=True, exist_ok=True)
            py_compile.compile(
                str(source),
                cfile=str(target),
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
            )


def _mirror(prefix: Path, source: Path) -> Path:
    """Where Python keeps the bytecode of the sources under ``source`` in ``prefix``."""
    return prefix / source.resolve().relative_to(source.resolve().anchor)
