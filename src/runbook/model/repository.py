"""A runbook repository: its folders, its ``runbook.toml``, and paths that stay inside it."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from runbook.errors import (
    ConfigError,
    NotARepositoryError,
    PathEscapeError,
    UnknownRunbookError,
)
from runbook.model.files import read_failure, read_text
from runbook.model.retention import RetentionPolicy, parse_retention

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
class RepositoryConfig:
    """The settings in ``runbook.toml``."""

    name: str = ""
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    store_url: str = ""
    #: Reports written after every run (``[report] formats``); empty for none.
    report_formats: tuple[str, ...] = ("html",)
    #: Apprise URLs notified of run events (``[notify] urls``), and which events (``on``).
    notify_urls: tuple[str, ...] = ()
    notify_events: tuple[str, ...] = NOTIFY_EVENTS
    #: How long finished runs are kept (``[retention]``); see ``runbook gc``.
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    #: The OS user kernels run as (``[kernel] user``); empty for the runbook's own user.
    kernel_user: str = ""


@dataclass(frozen=True)
class Repository:
    """A folder made by ``runbook init``."""

    root: Path
    config: RepositoryConfig

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


def read_config(path: Path) -> RepositoryConfig:
    """Parse ``runbook.toml``; every error names the file and the key."""
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
    repository = _table(data, "repository", path)
    review = _table(data, "review", path)
    store = _table(data, "store", path)
    report = _table(data, "report", path)
    notify = _table(data, "notify", path)
    kernel = _table(data, "kernel", path)
    retention = parse_retention(_table(data, "retention", path), f"{path}: retention")
    require = review.get("require", "tagged")
    if require not in ("all", "none", "tagged"):
        raise ConfigError(
            f"{path}: review.require", f"{require!r} is not one of 'all', 'none', 'tagged'"
        )
    tags = review.get("tags", ["critical"])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{path}: review.tags", "must be a list of text")
    name = repository.get("name", path.parent.name)
    url = store.get("url", "")
    kernel_user = kernel.get("user", "")
    if not isinstance(kernel_user, str) or "\x00" in kernel_user:
        raise ConfigError(f"{path}: kernel.user", "must be the name of a user")
    if not isinstance(name, str) or not isinstance(url, str):
        raise ConfigError(f"{path}", "repository.name and store.url must be text")
    formats = _texts(report.get("formats", ["html"]), f"{path}: report.formats", REPORT_FORMATS)
    urls = _texts(notify.get("urls", []), f"{path}: notify.urls")
    events = _texts(notify.get("on", list(NOTIFY_EVENTS)), f"{path}: notify.on", NOTIFY_EVENTS)
    return RepositoryConfig(
        name=name,
        review=ReviewPolicy(require=require, tags=tuple(tags)),
        store_url=url,
        report_formats=formats,
        notify_urls=urls,
        notify_events=events,
        retention=retention,
        kernel_user=kernel_user.strip(),
    )


def _texts(value: object, where: str, allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, "must be a list of text")
    unknown = [v for v in value if allowed and v not in allowed]
    if unknown:
        raise ConfigError(where, f"{unknown[0]!r} is not one of {', '.join(allowed)}")
    return tuple(value)


def _table(data: dict[str, object], key: str, path: Path) -> dict[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}", "must be a table")
    return value
