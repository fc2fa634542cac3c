"""Editing sessions as records: their names, the options chosen, and what became of them.

A session belongs to one user (by :func:`runbook.model.identity.identity_key`) and is named
by them; it edits a branch in its own git worktree. Its options are checked here against
the ``[sessions]`` limits (:mod:`runbook.model.settings_sessions`), so every edge refuses
the same thing with the same message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from runbook.errors import ParameterError
from runbook.model.settings_sessions import SessionSettings

_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


class SessionState(StrEnum):
    """Where a session is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SessionOptions:
    """What a session's Jupyter server is given: memory (MiB), CPU seconds, idle timeout."""

    memory_mb: int
    cpu_seconds: int
    idle_timeout: int

    def to_json(self) -> dict[str, int]:
        """The options as JSON."""
        return asdict(self)


def options_offered(settings: SessionSettings) -> dict[str, dict[str, int]]:
    """What may be chosen: each option's default and limit (``GET /sessions/options``)."""
    return {
        option: {"default": getattr(settings, option), "max": getattr(settings, f"max_{option}")}
        for option in ("memory_mb", "cpu_seconds", "idle_timeout")
    }


def choose_options(settings: SessionSettings, chosen: dict[str, Any] | None) -> SessionOptions:
    """The options of a new session: ``chosen`` over the defaults; ParameterError naming the
    first option that is unknown, not a whole number ≥ 1, or above its limit."""
    offered = options_offered(settings)
    values = {option: limits["default"] for option, limits in offered.items()}
    for option, value in (chosen or {}).items():
        if option not in offered:
            known = ", ".join(offered)
            raise ParameterError(option, f"not a session option: one of {known}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(option, f"must be a whole number ≥ 1, not {value!r}")
        if value > offered[option]["max"]:
            raise ParameterError(
                option,
                f"{value} is above the limit of {offered[option]['max']} (sessions.max_{option})",
            )
        values[option] = value
    return SessionOptions(**values)


def check_session_name(name: str) -> str:
    """``name`` when it may name a session (lower-case letters, digits and ``-``, at most
    40, not starting with ``-``); ParameterError otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ParameterError(
            "name",
            "a session name is 1-40 lower-case letters, digits or '-', not starting with '-'",
        )
    return name


def user_slug(user_key: str) -> str:
    """A user key as one safe component of a branch name or a folder name; a key that had
    to change gets a digest of itself, so two users never share a slug."""
    slug = _UNSAFE.sub("-", user_key).strip(".-").replace("..", "-")
    if slug == user_key and slug and not slug.endswith(".lock"):
        return slug
    return f"{slug or 'user'}-{hashlib.sha256(user_key.encode()).hexdigest()[:10]}"


def session_branch(user: str, name: str) -> str:
    """The branch a session edits when none is asked for (``user`` as given: readable)."""
    return f"session/{user_slug(user)}/{name}"


def autosave_prefix(user: str) -> str:
    """The branch prefix of a user's autosaves (``autosave/<user>/``, ``user`` as given)."""
    return f"autosave/{user_slug(user)}/"


@dataclass(frozen=True)
class SessionRecord:
    """One session as recorded: never its token, which stays in the server's memory."""

    name: str
    owner: str  # the user as given
    owner_key: str  # as compared
    branch: str
    worktree: str
    options: SessionOptions
    state: SessionState
    started_at: datetime
    pid: int | None = None
    port: int | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    autosave: str | None = None  # the branch the session's uncommitted work went to
    restored_from: str | None = None
    runbook: str | None = None  # the runbook to open, relative to the worktree
    extra: dict[str, Any] = field(default_factory=dict)

    def stopped(self, reason: str, at: datetime, autosave: str | None) -> SessionRecord:
        """This session, stopped."""
        return replace(
            self, state=SessionState.STOPPED, stop_reason=reason, stopped_at=at, autosave=autosave
        )

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (what the API shows and the state file holds)."""
        data = asdict(self)
        data.pop("extra")
        data["state"] = self.state.value
        data["started_at"] = self.started_at.isoformat()
        data["stopped_at"] = self.stopped_at.isoformat() if self.stopped_at else None
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> SessionRecord:
        """A record read back from :meth:`to_json`."""
        stopped = data.get("stopped_at")
        return SessionRecord(
            **{
                **data,
                "options": SessionOptions(**data["options"]),
                "state": SessionState(data["state"]),
                "started_at": datetime.fromisoformat(data["started_at"]),
                "stopped_at": datetime.fromisoformat(stopped) if stopped else None,
            }
        )
