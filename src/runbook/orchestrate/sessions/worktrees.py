"""Each session's own git worktree, and the autosave of what it did not commit.

A session edits a branch in a worktree of its own (``git worktree add``): git itself refuses
to check one branch out twice, so two sessions never edit the same files. When it stops,
what is uncommitted there is committed onto a new ``autosave/<user>/<session>/<time>``
branch, never onto the session's branch, before the worktree is removed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from runbook.errors import FailureError, ParameterError, UnknownAutosaveError
from runbook.model.sessions import autosave_prefix

#: Jupyter's own copies: never part of an autosave.
_SKIPPED: Final = ":(exclude,glob)**/.ipynb_checkpoints/**"
_TRAILER: Final = "Runbook-Session-Branch: "


def git(root: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """``git ARGS`` in ``root``, its output stripped; FailureError with git's message."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **(env or {})},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FailureError(f"git {args[0]}: {error}") from None
    if check and result.returncode != 0:
        raise FailureError(f"git {' '.join(args[:2])}: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip()


def branch_exists(root: Path, branch: str) -> bool:
    """Whether ``branch`` is a local branch of the repository."""
    return bool(git(root, "branch", "--list", branch))


def check_branch(root: Path, branch: str) -> str:
    """``branch`` when git accepts it as a branch name outside ``autosave/``."""
    if (
        branch.startswith("autosave/")
        or git(root, "check-ref-format", "--branch", branch, check=False) != branch
    ):
        raise ParameterError("branch", f"{branch!r} is not a branch a session may edit")
    return branch


def add_worktree(root: Path, path: Path, branch: str) -> None:
    """Check ``branch`` out at ``path``, made from HEAD when it does not exist yet."""
    if not git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
        raise FailureError(f"{root}: the repository has no commit yet; commit before editing")
    path.parent.mkdir(parents=True, exist_ok=True)
    if branch_exists(root, branch):
        git(root, "worktree", "add", "--quiet", str(path), branch)
    else:
        git(root, "worktree", "add", "--quiet", "-b", branch, str(path), "HEAD")


def remove_worktree(root: Path, path: Path) -> None:
    """Remove the worktree at ``path`` (whatever it holds: autosave it first)."""
    if path.exists():
        git(root, "worktree", "remove", "--force", str(path), check=False)
    git(root, "worktree", "prune", check=False)


def autosave(path: Path, owner: str, name: str, branch: str, now: datetime) -> str | None:
    """Commit what is uncommitted in the worktree at ``path`` onto a new autosave branch
    (its name returned); None when nothing is. The session's own branch does not move."""
    if not path.is_dir():
        return None
    git(path, "add", "--all", "--", ".", _SKIPPED)
    if not git(path, "status", "--porcelain", "--untracked-files=no"):
        return None
    tree = git(path, "write-tree")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    autosave_branch = f"{autosave_prefix(owner)}{name}/{stamp}"
    who = {"GIT_AUTHOR_NAME": owner, "GIT_AUTHOR_EMAIL": f"{owner}@runbook.invalid"}
    who |= {"GIT_COMMITTER_NAME": "runbook", "GIT_COMMITTER_EMAIL": "runbook@runbook.invalid"}
    message = f"Autosave of session {name}\n\n{_TRAILER}{branch}\n"
    commit = git(path, "commit-tree", tree, "-p", "HEAD", "-m", message, env=who)
    git(path, "branch", autosave_branch, commit)
    return autosave_branch


@dataclass(frozen=True)
class Autosave:
    """One autosave branch: which session's, from which branch, when."""

    name: str
    branch: str
    created_at: datetime

    def to_json(self) -> dict[str, str]:
        """The autosave as JSON."""
        return {"name": self.name, "branch": self.branch, "created_at": self.created_at.isoformat()}


def autosaves(root: Path, owner: str) -> list[Autosave]:
    """``owner``'s autosaves, newest first."""
    listed = git(
        root,
        "for-each-ref",
        "--sort=-creatordate",
        "--format=%(refname:short)%00%(creatordate:iso-strict)%00%(contents)%00%00",
        f"refs/heads/{autosave_prefix(owner)}",
    )
    found = []
    for entry in listed.split("\x00\x00"):
        fields = entry.strip("\n").split("\x00")
        if len(fields) < 3 or not fields[0]:
            continue
        branch = next(
            (
                line.removeprefix(_TRAILER)
                for line in fields[2].splitlines()
                if line.startswith(_TRAILER)
            ),
            "",
        )
        found.append(Autosave(fields[0], branch, datetime.fromisoformat(fields[1])))
    # The stamp ends the name and has microseconds; the commit date only seconds.
    return sorted(found, key=lambda a: (a.created_at, a.name.rsplit("/", 1)[-1]), reverse=True)


def delete_autosave(root: Path, owner: str, name: str) -> None:
    """Delete ``owner``'s autosave ``name`` (its branch); UnknownAutosaveError when none is."""
    if name not in {a.name for a in autosaves(root, owner)}:
        raise UnknownAutosaveError(name)
    git(root, "branch", "-D", name)


def restore(path: Path, autosave_branch: str) -> None:
    """Bring an autosave's files back into the worktree at ``path``, uncommitted."""
    git(path, "checkout", autosave_branch, "--", ".")
    git(path, "reset", "--quiet")
