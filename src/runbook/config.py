"""Settings from the environment, layered over a repository's ``runbook.toml``.

``RUNBOOK_DB_URL`` overrides ``[store] url``; a ``{}`` in the URL is replaced by the
password from ``RUNBOOK_DB_PASSWORD`` (or ``RUNBOOK_DB_PASSWORD_FILE``, or the secret file
``RUNBOOK_DB_PASSWORD`` in the secrets folder), as AutoFlow does with ``AUTOFLOW_DB_URI``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from runbook.errors import ConfigError
from runbook.secrets import find_secret

PASSWORD_PLACEHOLDER = "{}"  # noqa: S105 - a placeholder, not a password


def database_url(root: Path, configured: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL of a repository's store, with any password filled in.

    Without configuration this is the SQLite file ``.runbook/runbook.db`` in the repository.
    """
    env = os.environ if environ is None else environ
    url = env.get("RUNBOOK_DB_URL") or configured
    if not url:
        return f"sqlite:///{root / '.runbook' / 'runbook.db'}"
    if PASSWORD_PLACEHOLDER not in url:
        return url
    password = find_secret("RUNBOOK_DB_PASSWORD", env)
    if password is None:
        raise ConfigError(
            "RUNBOOK_DB_URL",
            "has a {} password placeholder but no "
            "RUNBOOK_DB_PASSWORD variable or secret file is set",
        )
    return url.replace(PASSWORD_PLACEHOLDER, quote(password, safe=""), 1)
