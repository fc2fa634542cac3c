"""The sections of the settings read when they are used: ``[workflows]`` and ``[egress]``.

Same sources and rules as :mod:`runbook.model.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from runbook.errors import ConfigError, PathEscapeError
from runbook.model.repository import resolve_inside
from runbook.model.settings import _LOADING, LOG_LEVELS, _Inputs, _loading, _origin, _Settings


class WorkflowSettings(_Settings):
    """Where workflows are read from and written to, and how they run (``[workflows]``).

    ``inputs`` holds the workflows files and their notebooks; ``outputs`` receives each
    workflow run's reports (``<outputs>/<workflow run id>/reports/``). Both are inside the
    repository.
    """

    inputs: Path = Field(
        default=Path("workflows"),
        validate_default=True,
        description="Where workflows files and their notebooks are (inside the repository).",
        json_schema_extra=_origin("workflows.inputs", "RUNBOOK_INPUTS_DIR", "AUTOFLOW_INPUTS_DIR"),
    )
    outputs: Path = Field(
        default=Path("runs"),
        validate_default=True,
        description="Where each workflow run's reports go: <outputs>/<run>/reports/.",
        json_schema_extra=_origin(
            "workflows.outputs", "RUNBOOK_OUTPUTS_DIR", "AUTOFLOW_OUTPUTS_DIR"
        ),
    )
    flowapi_url: str = Field(
        default="",
        description="FlowAPI for the available-dates sensor and notebooks' `flowapi_url`.",
        json_schema_extra=_origin("workflows.flowapi_url", "FLOWAPI_URL"),
    )
    log_level: str = Field(
        default="INFO",
        description="Log level of workflow runs and the scheduler: " + ", ".join(LOG_LEVELS) + ".",
        json_schema_extra=_origin("workflows.log_level", "RUNBOOK_LOG_LEVEL", "AUTOFLOW_LOG_LEVEL"),
    )
    max_parallel: int = Field(
        default=4,
        description="Tasks of one workflow run at once.",
        json_schema_extra=_origin("workflows.max_parallel", "RUNBOOK_MAX_PARALLEL"),
    )
    sensor_attempts: int = Field(
        default=3,
        description="Attempts of a failing sensor firing before giving up.",
        json_schema_extra=_origin("workflows.sensor_attempts"),
    )

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _inside(cls, value: object) -> Path:
        if not isinstance(value, str | Path) or not str(value).strip() or "\x00" in str(value):
            raise ConfigError("workflows", f"a folder must be a path, not {value!r}")
        try:
            return resolve_inside(_LOADING.get().root, str(value))
        except PathEscapeError:
            raise ConfigError(
                "workflows", f"{value}: the folder must be inside the repository"
            ) from None

    @field_validator("flowapi_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ConfigError("workflows.flowapi_url", "must be text")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> str:
        level = str(value).upper()
        if level not in LOG_LEVELS:
            raise ConfigError("log level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("max_parallel", "sensor_attempts", mode="before")
    @classmethod
    def _count(cls, value: object, info: ValidationInfo) -> int:
        try:
            number = int(str(value))
        except ValueError:
            number = 0
        if number < 1:
            raise ConfigError(
                f"workflows.{info.field_name}", f"expected a whole number ≥ 1, not {value!r}"
            )
        return number


def load_workflow_settings(
    root: Path, table: Mapping[str, Any], environ: Mapping[str, str]
) -> WorkflowSettings:
    """The ``[workflows]`` settings (``table``) of the repository at ``root``."""
    inputs = _Inputs(root=root, where="workflows", data={"workflows": table}, environ=environ)
    with _loading(inputs):
        return WorkflowSettings()


class EgressSettings(_Settings):
    """Where outbound HTTP may go besides public addresses (``[egress]``)."""

    egress_allow_private: tuple[str, ...] = Field(
        default=(),
        description="Private, loopback or link-local hosts outbound HTTP may reach (host "
        "names, IPs or CIDR networks).",
        json_schema_extra=_origin("egress.allow_private"),
    )
    egress_allow: tuple[str, ...] = Field(
        default=(),
        description="More hosts outbound HTTP may reach, comma-separated; added to "
        "`egress.allow_private`, not replacing it.",
        json_schema_extra=_origin("", "RUNBOOK_EGRESS_ALLOW"),
    )

    @field_validator("egress_allow_private", mode="before")
    @classmethod
    def _allow_private(cls, value: object) -> object:
        # Tolerant, as the egress policy always was: entries that are not text are skipped.
        listed = [value] if isinstance(value, str) else value
        return tuple(e for e in listed if isinstance(e, str)) if isinstance(listed, list) else ()

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _allow(cls, value: object) -> object:
        return tuple(value.split(",")) if isinstance(value, str) else value

    @property
    def egress_entries(self) -> tuple[str, ...]:
        """Every allowed private target, from the file then the environment, once each."""
        entries = (*self.egress_allow_private, *self.egress_allow)
        return tuple(dict.fromkeys(e.strip() for e in entries if e.strip()))


def load_egress_settings(table: Mapping[str, Any], environ: Mapping[str, str]) -> EgressSettings:
    """The ``[egress]`` settings (``table``, read tolerantly) and ``RUNBOOK_EGRESS_ALLOW``."""
    inputs = _Inputs(root=Path(), where="egress", data={"egress": table}, environ=environ)
    with _loading(inputs):
        return EgressSettings()
