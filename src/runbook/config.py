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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from runbook.credentials import environment
from runbook.errors import ConfigError
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

if TYPE_CHECKING:  # pydantic is imported when settings are read, not with this module.
    from runbook.model.settings_sections import WorkflowSettings


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


def workflow_settings(
    root: Path, table: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WorkflowSettings:
    """Settings from ``[workflows]`` of ``runbook.toml``, overridden by the environment.

    The keys, their variables and defaults are the fields of
    :class:`runbook.model.settings.WorkflowSettings`.
    """
    from runbook.model.settings_sections import load_workflow_settings

    return load_workflow_settings(root, table, os.environ if environ is None else environ)


def log_level_number(level: str) -> int:
    """The :mod:`logging` number of a level name from :data:`LOG_LEVELS`."""
    return int(logging.getLevelName(level))
