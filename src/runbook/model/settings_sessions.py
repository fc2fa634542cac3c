"""The ``[sessions]`` settings: what an editing session may be given, and by default.

Same sources and rules as :mod:`runbook.model.settings`; read when sessions are first used
(``runbook serve``, ``runbook sessions``), so a mistake here stops those and nothing else.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from runbook.errors import ConfigError
from runbook.model.settings import _Inputs, _loading, _origin, _Settings, _where


class SessionSettings(_Settings):
    """Defaults and upper limits of the options a session may be started with."""

    memory_mb: int = Field(
        default=4096,
        description="Address space of a session's Jupyter server and each of its kernels, "
        "in MiB (RLIMIT_AS), when none is chosen.",
        json_schema_extra=_origin("sessions.memory_mb"),
    )
    max_memory_mb: int = Field(
        default=16384,
        description="The most `memory_mb` a session may choose.",
        json_schema_extra=_origin("sessions.max_memory_mb"),
    )
    cpu_seconds: int = Field(
        default=36000,
        description="CPU time of a session's server and of each kernel, in seconds "
        "(RLIMIT_CPU), when none is chosen.",
        json_schema_extra=_origin("sessions.cpu_seconds"),
    )
    max_cpu_seconds: int = Field(
        default=86400,
        description="The most `cpu_seconds` a session may choose.",
        json_schema_extra=_origin("sessions.max_cpu_seconds"),
    )
    idle_timeout: int = Field(
        default=3600,
        description="Seconds without activity after which a session is stopped (and "
        "autosaved), when none is chosen.",
        json_schema_extra=_origin("sessions.idle_timeout"),
    )
    max_idle_timeout: int = Field(
        default=86400,
        description="The most `idle_timeout` a session may choose.",
        json_schema_extra=_origin("sessions.max_idle_timeout"),
    )
    cull_interval: float = Field(
        default=30.0,
        description="Seconds between two checks for idle or dead sessions.",
        json_schema_extra=_origin("sessions.cull_interval"),
    )

    @field_validator(
        "memory_mb",
        "max_memory_mb",
        "cpu_seconds",
        "max_cpu_seconds",
        "idle_timeout",
        "max_idle_timeout",
        mode="before",
    )
    @classmethod
    def _count(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(_where(f"sessions.{info.field_name}"), "must be a whole number ≥ 1")
        return value

    @field_validator("cull_interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(_where("sessions.cull_interval"), "must be a number > 0")
        return float(value)

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> SessionSettings:
        for option in ("memory_mb", "cpu_seconds", "idle_timeout"):
            if getattr(self, option) > getattr(self, f"max_{option}"):
                raise ConfigError(_where(f"sessions.{option}"), f"is above sessions.max_{option}")
        return self


def load_session_settings(root: Path, environ: Mapping[str, str]) -> SessionSettings:
    """The ``[sessions]`` settings of the repository at ``root`` (its runbook.toml, already
    checked as TOML when the repository was found)."""
    path = root / "runbook.toml"
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(str(path), str(error)) from None
    table = data.get("sessions", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: sessions", "must be a table")
    inputs = _Inputs(root=root, where=str(path), data={"sessions": table}, environ=environ)
    with _loading(inputs):
        return SessionSettings()
