"""The audit anchors' copy in git: one commit per anchor on a ref of the repository's git.

Each commit holds the anchor twice: in its message (read back by one ``git log``) and as
``anchor.json`` in its tree (for ``git show REF:anchor.json``). Its parent is the commit
of the anchor before, so the ref's history is the list of anchors, and git's reflog
records every move of the ref. Commits are made with plumbing (``hash-object``,
``mktree``, ``commit-tree``, ``update-ref``): no hook runs, nothing is signed, the work
tree, index and HEAD are never touched, and the ref only moves from the commit it was read
at (a compare-and-swap), so two writers cannot lose one another's anchors.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runbook.model.audit_anchor import (
    ANCHOR_REF,
    Anchor,
    anchor_message,
    parse_anchor_message,
)

_TIMEOUT: Final = 30
_IDENTITY: Final = {
    "GIT_AUTHOR_NAME": "runbook",
    "GIT_AUTHOR_EMAIL": "runbook@localhost",
    "GIT_COMMITTER_NAME": "runbook",
    "GIT_COMMITTER_EMAIL": "runbook@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}


class GitError(Exception):
    """git is missing or one of its commands failed; the message is one line."""


@dataclass(frozen=True)
class AnchorRef:
    """Where a repository's anchors live in git: the git top folder and the ref's name."""

    toplevel: Path
    name: str


@dataclass(frozen=True)
class RefAnchors:
    """The anchors on the ref, oldest first, and the commit the ref pointed at (or None)."""

    head: str | None
    anchors: list[Anchor]


def anchor_ref(root: Path) -> AnchorRef | None:
    """The ref of the repository at ``root``; None outside git (or without git).

    A runbook repository at the top of its git repository uses ``refs/runbook/audit-anchor``;
    one in a subfolder or a linked worktree gets a ref of its own, suffixed with a digest of
    the folder's path and the worktree's name.
    """
    try:
        found = _git(
            root,
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--git-dir",
            "--git-common-dir",
        ).splitlines()
    except GitError:
        return None
    if len(found) != 3:
        return None
    toplevel, git_dir, common_dir = (Path(line).resolve() for line in found)
    try:
        inside = root.resolve().relative_to(toplevel).as_posix()
    except ValueError:
        return None
    # Refs are shared by every worktree of a git repository, each with its own .runbook/.
    worktree = "" if git_dir == common_dir else git_dir.name
    if inside == "." and not worktree:
        return AnchorRef(toplevel, ANCHOR_REF)
    digest = hashlib.sha256(f"{worktree}\0{inside}".encode()).hexdigest()[:12]
    return AnchorRef(toplevel, f"{ANCHOR_REF}-{digest}")


def read_ref(ref: AnchorRef) -> RefAnchors:
    """The anchors on ``ref``; GitError when git fails, AnchorFormatError for a bad commit
    (see :mod:`runbook.model.audit_anchor`)."""
    found = _git(
        ref.toplevel, "rev-parse", "--verify", "--quiet", f"{ref.name}^{{commit}}", ok=(1,)
    )
    head = found.strip() or None
    if head is None:
        return RefAnchors(head=None, anchors=[])
    log = _git(ref.toplevel, "log", "-z", "--first-parent", "--format=%H%n%B", head)
    anchors = []
    for entry in log.split("\0"):
        if not entry.strip():
            continue
        commit, _, message = entry.lstrip("\n").partition("\n")
        anchors.append(parse_anchor_message(message, f"git commit {commit[:12]} of {ref.name}"))
    anchors.reverse()
    return RefAnchors(head=head, anchors=anchors)


def append_to_ref(ref: AnchorRef, anchors: list[Anchor], head: str | None) -> str:
    """Commit ``anchors`` (oldest first) on top of ``head`` and move the ref; the new head.

    Refuses (GitError) when the ref no longer points at ``head``.
    """
    parent = head
    for anchor in anchors:
        text = json.dumps(anchor.to_json(), sort_keys=True, indent=2) + "\n"
        blob = _git(ref.toplevel, "hash-object", "-w", "--stdin", stdin=text).strip()
        tree = _git(ref.toplevel, "mktree", stdin=f"100644 blob {blob}\tanchor.json\n").strip()
        command = ["commit-tree", "--no-gpg-sign", tree, "-F", "-"]
        if parent is not None:
            command[2:2] = ["-p", parent]
        parent = _git(ref.toplevel, *command, stdin=anchor_message(anchor)).strip()
    if parent is None or parent == head:
        return head or ""
    message = f"runbook audit anchor: event {anchors[-1].event_id}"
    _git(
        ref.toplevel,
        "update-ref",
        "--create-reflog",
        "-m",
        message,
        ref.name,
        parent,
        head or "",
    )
    return parent


def _git(cwd: Path, *args: str, stdin: str | None = None, ok: tuple[int, ...] = ()) -> str:
    environment = {**os.environ, **_IDENTITY}
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            env=environment,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {args[0]}: {error}") from None
    except UnicodeDecodeError:
        raise GitError(f"git {args[0]}: output is not UTF-8") from None
    if result.returncode != 0 and result.returncode not in ok:
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise GitError(f"git {args[0]}: {detail}")
    return "" if result.returncode in ok and result.returncode != 0 else result.stdout
