"""The kernel's working directory: the runbook's own folder, or a folder chosen when planning.

Jupyter, ``jupyter execute`` and papermill (run from the notebook's folder) start a kernel in
the notebook's folder, so a runbook that opens ``data/hosts.csv`` was written against that
folder. A plan records the folder (repository-relative, POSIX, ``.`` for the root) in
``metadata.runbook.plan.cwd``, inside the content its sha256 and every review cover.

The folder must be inside the repository and reached by the module manifest's walk
(:mod:`runbook.model.modules`): not inside its state (``.runbook/``), run outputs
(``runs/``), a version-control folder or a virtualenv. The kernel imports from its working
directory first, and the manifest is what binds that code to the plan.
A plan recorded before working directories were has none: it runs at the repository root,
where every plan ran then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from runbook.errors import PathEscapeError
from runbook.model.modules import unwalked
from runbook.model.plan import Plan
from runbook.model.repository import Repository, resolve_inside
from runbook.typing import Notebook

#: The key of ``metadata.runbook.plan`` holding the working directory.
PLAN_CWD_KEY: Final = "cwd"
#: The repository root, as recorded.
ROOT: Final = "."


def choose_cwd(
    repository: Repository, runbook_path: Path, chosen: str | None, *, base: Path | None = None
) -> str:
    """The working directory to record for a plan of ``runbook_path``.

    ``chosen`` (``--cwd``, relative to ``base``) or else the runbook's own folder. Raises
    PathEscapeError naming the folder when it is outside the repository, not a folder, or
    inside ``.runbook/`` or ``runs/``.
    """
    if chosen is None:
        folder = runbook_path.resolve().parent
        shown = repository.relative(folder) if folder.is_relative_to(repository.root) else ""
        return _recorded(repository, folder, shown or str(folder))
    return _recorded(repository, repository.resolve(chosen, base=base), chosen)


def planned_cwd(notebook: Notebook) -> str:
    """The working directory a plan notebook records; the root for a plan without one."""
    meta = notebook.get("metadata", {}).get("runbook", {}) if isinstance(notebook, dict) else {}
    plan = meta.get("plan") if isinstance(meta, dict) else None
    recorded = plan.get(PLAN_CWD_KEY) if isinstance(plan, dict) else None
    return recorded if isinstance(recorded, str) else ROOT


def plan_cwd(plan: Plan) -> str:
    """The working directory in the plan's recorded content (the store's copy)."""
    return planned_cwd(json.loads(plan.content))


def kernel_cwd(repository: Repository, recorded: str) -> Path:
    """The folder a recorded working directory names, checked again as when planning.

    The record comes from a plan file: a relative path without ``..``, resolved through
    the repository's resolver. Raises PathEscapeError when it is no longer such a folder.
    """
    return repository.root / _recorded(
        repository, resolve_inside(repository.root, recorded, strict=True), recorded
    )


def _recorded(repository: Repository, folder: Path, shown: str) -> str:
    root = repository.root.resolve()
    if not folder.is_relative_to(root):
        raise PathEscapeError(shown, f"is outside the repository {root}")
    if not folder.is_dir():
        raise PathEscapeError(shown, "is not a folder: the kernel's working directory must be one")
    reason = unwalked(root, folder, (repository.state_dir, repository.runs_dir))
    if reason is not None:
        raise PathEscapeError(
            shown,
            f"{reason}, whose code no review covers: choose a folder elsewhere in the repository",
        )
    relative = folder.relative_to(root).as_posix()
    return relative or ROOT
