"""A runbook repository: its folders, its ``runbook.toml``, and paths that stay inside it."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from runbook.errors import (
    ConfigError,
    NotARepositoryError,
    PathEscapeError,
    UnknownRunbookError,
)
from runbook.model.files import read_failure, read_text
from runbook.model.review_rules import ReviewRules

if TYPE_CHECKING:  # pydantic is imported when a repository is read, not by `runbook --help`.
    from runbook.model.settings import RepositorySettings

CONFIG_FILE: Final = "runbook.toml"
#: The repository's local state folder (git-ignored): the SQLite store, kernel folders.
STATE_FOLDER: Final = ".runbook"
FOLDERS: Final = ("runbooks", "templates", "workflows", "playbooks", "catalog", "runs", ".runbook")
NOTEBOOK_SUFFIX: Final = ".ipynb"

ReviewRequirement = Literal["all", "none", "tagged"]


@dataclass(frozen=True)
class ReviewPolicy:
    """Which runbooks need a second person's approval before they run."""

    require: ReviewRequirement = "tagged"
    tags: tuple[str, ...] = ("critical",)
    #: Verdicts must carry an SSH signature by a key listed in ``allowed_signers``.
    signed: bool = False
    allowed_signers: Path | None = None
    #: How many approvals, from whom, by tag (``runbook.model.review_rules``).
    rules: ReviewRules = field(default_factory=ReviewRules)

    def requires_review(self, runbook_tags: tuple[str, ...]) -> bool:
        """Whether a runbook with these ``metadata.runbook.tags`` needs an approval."""
        if self.require == "all":
            return True
        if self.require == "none":
            return False
        return bool(set(self.tags) & set(runbook_tags))


REPORT_FORMATS: Final = ("html", "md", "pdf")
NOTIFY_EVENTS: Final = ("run.started", "cell.decided", "run.failed", "run.finished")


@dataclass(frozen=True)
class Repository:
    """A folder made by ``runbook init``."""

    root: Path
    config: RepositorySettings

    @property
    def runbooks_dir(self) -> Path:
        """Where authored runbooks live."""
        return self.root / "runbooks"

    @property
    def templates_dir(self) -> Path:
        """Where the repository's own templates live."""
        return self.root / "templates"

    @property
    def runs_dir(self) -> Path:
        """Executed notebooks, plans and reports (git-ignored)."""
        return self.root / "runs"

    @property
    def plans_dir(self) -> Path:
        """Planned notebooks, one file per plan."""
        return self.runs_dir / "plans"

    @property
    def state_dir(self) -> Path:
        """Local state such as the SQLite database (git-ignored)."""
        return self.root / STATE_FOLDER

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, in POSIX form, as stored in records."""
        return path.resolve().relative_to(self.root).as_posix()

    def resolve(self, user_path: str, *, base: Path | None = None) -> Path:
        """Resolve a user-given path and require it to stay inside the repository."""
        return resolve_inside(self.root, user_path, base=base)

    def runbook_paths(self) -> list[Path]:
        """Every notebook under ``runbooks/``, sorted, skipping checkpoints."""
        if not self.runbooks_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.runbooks_dir.rglob(f"*{NOTEBOOK_SUFFIX}")
            if ".ipynb_checkpoints" not in p.parts
        )

    def runbook_name(self, path: Path) -> str:
        """The short name of a runbook: its path under ``runbooks/`` without the suffix."""
        return path.resolve().relative_to(self.runbooks_dir.resolve()).with_suffix("").as_posix()

    def find_runbook(self, name_or_path: str, *, base: Path | None = None) -> Path:
        """Find a runbook by short name (``restart-database``) or by path."""
        if name_or_path.endswith(NOTEBOOK_SUFFIX) or "/" in name_or_path:
            path = self.resolve(name_or_path, base=base)
            if path.is_file():
                return path
        candidate = self.runbooks_dir / f"{name_or_path}{NOTEBOOK_SUFFIX}"
        if "\x00" not in name_or_path and candidate.is_file():
            return self.resolve(str(candidate))
        names = [self.runbook_name(p) for p in self.runbook_paths()]
        close = difflib.get_close_matches(name_or_path, names, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see `runbook list`"
        raise UnknownRunbookError(name_or_path, hint)


def resolve_inside(
    root: Path, user_path: str, *, base: Path | None = None, strict: bool = False
) -> Path:
    """Resolve ``user_path`` (relative to ``base``, default the root) inside ``root``.

    Symlinks are followed before the check, and containment compares whole path parts, so a
    sibling folder that shares the root's name prefix is outside. ``strict`` (for paths
    arriving over the network) also refuses absolute paths and ``..`` segments outright.
    """
    if "\x00" in user_path:
        raise PathEscapeError(user_path.replace("\x00", "\\0"), "contains a NUL byte")
    if not user_path.strip():
        raise PathEscapeError(user_path, "is empty")
    candidate = Path(user_path)
    if strict and (
        candidate.is_absolute()
        or ".." in candidate.parts
        or "\\" in user_path
        or (len(user_path) > 1 and user_path[1] == ":")
    ):
        raise PathEscapeError(user_path, "must be a relative path without '..'")
    real_root = root.resolve()
    resolved = ((base or real_root) / candidate).resolve()
    if not resolved.is_relative_to(real_root):
        raise PathEscapeError(user_path, f"is outside the repository {real_root}")
    return resolved


def find_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` upwards that holds a runbook.toml, or None."""
    here = start.resolve()
    return next(
        (folder for folder in (here, *here.parents) if (folder / CONFIG_FILE).is_file()), None
    )


def find_repository(start: Path) -> Repository:
    """The repository containing ``start``: the nearest folder upwards with a runbook.toml."""
    root = find_root(start)
    if root is None:
        raise NotARepositoryError(str(start))
    return Repository(root=root, config=read_config(root / CONFIG_FILE))


def read_config(path: Path) -> RepositorySettings:
    """Parse ``runbook.toml`` into the repository's settings; every error names the file and
    the key. Variables override the keys :mod:`runbook.model.settings` says they do."""
    try:
        text = read_text(path)
    except (OSError, ValueError) as error:
        raise ConfigError(str(path), f"cannot read: {read_failure(error)}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"invalid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(str(path), "invalid TOML: nested too deeply") from None
    from runbook.credentials import environment
    from runbook.model.settings import load_settings

    return load_settings(path, data, environment())
