"""Settings from the environment, layered over a repository's ``runbook.toml``.

``RUNBOOK_DB_URL`` overrides ``[store] url``; a ``{}`` in the URL is replaced by the
password from ``RUNBOOK_DB_PASSWORD`` (or ``RUNBOOK_DB_PASSWORD_FILE``, or the secret file
``RUNBOOK_DB_PASSWORD`` in the secrets folder), as AutoFlow does with ``AUTOFLOW_DB_URI``.

AutoFlow's environment names are accepted as aliases, so its deployments keep working:
``AUTOFLOW_DB_URI``, ``AUTOFLOW_DB_PASSWORD``, ``AUTOFLOW_INPUTS_DIR``,
``AUTOFLOW_OUTPUTS_DIR`` and ``AUTOFLOW_LOG_LEVEL``. A ``RUNBOOK_*`` name wins over its alias.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from runbook.credentials import environment
from runbook.errors import ConfigError, PathEscapeError
from runbook.model.repository import resolve_inside
from runbook.secrets import find_secret

PASSWORD_PLACEHOLDER = "{}"  # noqa: S105 - a placeholder, not a password

#: Our environment names and the AutoFlow names accepted for them.
ALIASES: Final = {
    "RUNBOOK_DB_URL": "AUTOFLOW_DB_URI",
    "RUNBOOK_DB_PASSWORD": "AUTOFLOW_DB_PASSWORD",
    "RUNBOOK_INPUTS_DIR": "AUTOFLOW_INPUTS_DIR",
    "RUNBOOK_OUTPUTS_DIR": "AUTOFLOW_OUTPUTS_DIR",
    "RUNBOOK_LOG_LEVEL": "AUTOFLOW_LOG_LEVEL",
}
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The environment's value for ``name`` (a ``RUNBOOK_*`` name) or its AutoFlow alias."""
    env = environment() if environ is None else environ
    alias = ALIASES.get(name)
    return env.get(name) or (env.get(alias, "") if alias else "")


def database_url(root: Path, configured: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL of a repository's store, with any password filled in.

    Without configuration this is the SQLite file ``.runbook/runbook.db`` in the repository.
    """
    env = environment() if environ is None else environ
    url = setting("RUNBOOK_DB_URL", env) or configured
    if not url:
        return f"sqlite:///{root / '.runbook' / 'runbook.db'}"
    if PASSWORD_PLACEHOLDER not in url:
        return url
    password = find_secret("RUNBOOK_DB_PASSWORD", env)
    if password is None:
        password = find_secret("AUTOFLOW_DB_PASSWORD", env)
    if password is None:
        raise ConfigError(
            "RUNBOOK_DB_URL",
            "has a {} password placeholder but no "
            "RUNBOOK_DB_PASSWORD variable or secret file is set",
        )
    return url.replace(PASSWORD_PLACEHOLDER, quote(password, safe=""), 1)


@dataclass(frozen=True)
class WorkflowSettings:
    """Where workflows are read from and written to, and how they run.

    ``inputs`` holds the workflows files and their notebooks; ``outputs`` receives each
    workflow run's reports (``<outputs>/<workflow run id>/reports/``). Both are inside the
    repository.
    """

    inputs: Path
    outputs: Path
    flowapi_url: str = ""
    max_parallel: int = 4
    sensor_attempts: int = 3
    log_level: str = "INFO"


def workflow_settings(
    root: Path, table: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WorkflowSettings:
    """Settings from ``[workflows]`` of ``runbook.toml``, overridden by the environment.

    Keys: ``inputs`` (default ``workflows``), ``outputs`` (default ``runs``),
    ``flowapi_url`` (``FLOWAPI_URL``), ``max_parallel`` (``RUNBOOK_MAX_PARALLEL``, default 4),
    ``sensor_attempts`` (default 3), ``log_level`` (``RUNBOOK_LOG_LEVEL``, default INFO).
    """
    env = os.environ if environ is None else environ
    inputs = _inside(root, setting("RUNBOOK_INPUTS_DIR", env) or table.get("inputs", "workflows"))
    outputs = _inside(root, setting("RUNBOOK_OUTPUTS_DIR", env) or table.get("outputs", "runs"))
    url = env.get("FLOWAPI_URL") or table.get("flowapi_url", "")
    if not isinstance(url, str):
        raise ConfigError("workflows.flowapi_url", "must be text")
    level = (setting("RUNBOOK_LOG_LEVEL", env) or str(table.get("log_level", "INFO"))).upper()
    if level not in LOG_LEVELS:
        raise ConfigError("log level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    return WorkflowSettings(
        inputs=inputs,
        outputs=outputs,
        flowapi_url=url,
        max_parallel=_count(
            env.get("RUNBOOK_MAX_PARALLEL") or table.get("max_parallel", 4), "max_parallel"
        ),
        sensor_attempts=_count(table.get("sensor_attempts", 3), "sensor_attempts"),
        log_level=level,
    )


def log_level_number(level: str) -> int:
    """The :mod:`logging` number of a level name from :data:`LOG_LEVELS`."""
    return int(logging.getLevelName(level))


def _inside(root: Path, value: object) -> Path:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ConfigError("workflows", f"a folder must be a path, not {value!r}")
    try:
        return resolve_inside(root, value)
    except PathEscapeError:
        raise ConfigError(
            "workflows", f"{value}: the folder must be inside the repository"
        ) from None


def _count(value: object, name: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"workflows.{name}", f"expected a whole number ≥ 1, not {value!r}")
    return number
