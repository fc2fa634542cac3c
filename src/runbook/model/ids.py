"""The formats of the ids Runbook generates, and the folders named after them.

An id read back from the store (or typed by a user) names files: ``runs/<run>/``,
``runs/plans/<plan>.ipynb``, ``<outputs>/<workflow run>/``. A tampered store could hold
``../../victim`` instead, so every such path is built here: the id must match the format it
was generated in, and the folder is then resolved by the repository's one resolver and must
be exactly ``<base>/<id>`` (not a symlink to somewhere else, even inside the repository).
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Final

from runbook.errors import PathEscapeError
from runbook.model.plan import Plan
from runbook.model.repository import NOTEBOOK_SUFFIX, Repository, resolve_inside
from runbook.model.run import Run

_STAMP: Final = r"[0-9]{8}-[0-9]{6}-[0-9a-f]{4}"


class IdKind(StrEnum):
    """The kinds of generated ids; each value is the word used in messages."""

    RUN = "run"
    WORKFLOW_RUN = "workflow run"
    PLAYBOOK_RUN = "playbook run"
    PLAN = "plan"


#: Each kind's format, exactly as its ``new_*_id`` function makes it.
ID_FORMATS: Final[dict[IdKind, re.Pattern[str]]] = {
    IdKind.RUN: re.compile(_STAMP, re.ASCII),
    IdKind.WORKFLOW_RUN: re.compile(f"wf-{_STAMP}", re.ASCII),
    IdKind.PLAYBOOK_RUN: re.compile(f"pb-{_STAMP}", re.ASCII),
    # A slug of at most 40 characters (a-z, 0-9, inner "-"), then "-" and 6 hex digits.
    IdKind.PLAN: re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?-[0-9a-f]{6}", re.ASCII),
}

_EXAMPLES: Final = {
    IdKind.RUN: "20261123-120000-abcd",
    IdKind.WORKFLOW_RUN: "wf-20261123-120000-abcd",
    IdKind.PLAYBOOK_RUN: "pb-20261123-120000-abcd",
    IdKind.PLAN: "restart-database-a1b2c3",
}


def is_id(kind: IdKind, value: object) -> bool:
    """Whether ``value`` is an id of ``kind`` in the format Runbook generates."""
    return isinstance(value, str) and ID_FORMATS[kind].fullmatch(value) is not None


def check_id(kind: IdKind, value: object) -> str:
    """``value`` if it is an id of ``kind``; PathEscapeError saying what is wrong otherwise."""
    if isinstance(value, str) and ID_FORMATS[kind].fullmatch(value):
        return value
    shown = value if isinstance(value, str) else repr(value)
    raise PathEscapeError(
        shown.replace("\x00", "\\0"), f"is not a {kind} id (such as {_EXAMPLES[kind]})"
    )


def kind_of(name: str) -> IdKind | None:
    """The kind of run id ``name`` is (run, workflow run or playbook run), or None."""
    for kind in (IdKind.RUN, IdKind.WORKFLOW_RUN, IdKind.PLAYBOOK_RUN):
        if is_id(kind, name):
            return kind
    return None


def id_path(base: Path, kind: IdKind, record_id: object, suffix: str = "") -> Path:
    """``<base>/<id><suffix>``, for an id of ``kind``, through the containment resolver.

    The result must be exactly that entry of ``base``: an id that is not of its format, or
    an entry that is a symlink (to anywhere), raises PathEscapeError and is never followed.
    """
    name = check_id(kind, record_id) + suffix
    real_base = base.resolve()
    if (real_base / name).is_symlink():
        raise PathEscapeError(f"{base.name}/{name}", "is a link; refusing to follow it")
    resolved = resolve_inside(real_base, name, strict=True)
    if resolved != real_base / name:  # a link swapped in since, or a link above
        raise PathEscapeError(f"{base.name}/{name}", "is a link; refusing to follow it")
    return resolved


def stored_path(root: Path, folder: Path, stored: str) -> Path:
    """A path the store holds (relative to ``root``), resolved, and required inside ``folder``.

    For the paths records keep beside their ids (a run's or a plan's notebook): a tampered
    record cannot point a read or a write anywhere else, even elsewhere in the repository.
    """
    resolved = resolve_inside(root, stored, strict=True)
    if not resolved.is_relative_to(folder.resolve()):
        where = folder.resolve().relative_to(root.resolve()).as_posix()
        raise PathEscapeError(stored, f"is outside {where}/")
    return resolved


def run_folder(repository: Repository, run_id: str) -> Path:
    """``runs/<run>/``: the executed notebook, its log and its reports."""
    return id_path(repository.runs_dir, IdKind.RUN, run_id)


def run_notebook(repository: Repository, run: Run) -> Path:
    """The run's executed notebook, as its record says, required inside ``runs/<run>/``."""
    return stored_path(repository.root, run_folder(repository, run.id), run.notebook_path)


def plan_file(repository: Repository, plan_id: str) -> Path:
    """``runs/plans/<plan>.ipynb``: where a plan's notebook is written."""
    return id_path(repository.plans_dir, IdKind.PLAN, plan_id, NOTEBOOK_SUFFIX)


def plan_notebook(repository: Repository, plan: Plan) -> Path:
    """The plan's notebook, as its record says, required inside ``runs/plans/``."""
    return stored_path(repository.root, repository.plans_dir, plan.notebook_path)
