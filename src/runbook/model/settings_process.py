"""The variables of a Runbook process that no ``runbook.toml`` key sets.

They say which repository and who (read before any repository is found), and how this
process keeps leases, retries the store and prints PDFs. :class:`ProcessSettings` documents
every one (the README's "Process variables" table is drawn from it) and reads the ones the
core uses: :func:`process_settings` reads the environment as it is now, since a heartbeat
thread or a sweep may run with no repository in hand.

Three are read where pydantic may not be imported: ``RUNBOOK_DEBUG`` and ``RUNBOOK_REPO`` by
the CLI before it parses (``runbook --help`` stays light), and ``RUNBOOK_REPO``,
``RUNBOOK_SECRETS_DIR``, ``RUNBOOK_NOTIFY_URLS`` and ``RUNBOOK_USER`` by the helpers a kernel
imports (a notebook's imports stay light). ``tests/model/test_settings_process.py`` fails on
a ``RUNBOOK_*`` variable named anywhere in ``src/`` that no settings model declares.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from runbook.errors import ConfigError
from runbook.model.settings import _Inputs, _loading, _origin, _Settings

DEFAULT_LEASE_SECONDS = 30.0
#: What Runbook tells a kernel or a playbook's shell step, for the notebook to read.
TOLD_TO_KERNELS = {
    "RUNBOOK_RUN_ID": "The run executing this notebook.",
    "RUNBOOK_PLAN_ID": "The plan it runs.",
    "RUNBOOK_REPO": "The repository's folder.",
    "RUNBOOK_DRY_RUN": '"1" in a dry run, else "0": `sh()` and `notify()` then only say '
    "what they would do.",
    "RUNBOOK_PLAYBOOK_RUN": "The playbook run of a playbook step (also marks its processes).",
    "RUNBOOK_TARGET": "The target (host) a playbook step acts on.",
    "RUNBOOK_TARGET_ADDRESS": "That target's address from the inventory.",
    "RUNBOOK_CREDENTIALS_FD": "Internal: the pipe a re-executed `runbook` reads the store's "
    "credentials from (never given to a kernel).",
}
_VARIABLES = {
    "lease_seconds": "RUNBOOK_LEASE_SECONDS",
    "store_retry": "RUNBOOK_STORE_RETRY_SECONDS",
}


def _env(*names: str) -> dict[str, Any]:
    return _origin("", *names)


class ProcessSettings(_Settings):
    """What one process is told by its environment alone."""

    repo: str = Field(
        default="",
        description="The repository folder (`--repo`); default: the current folder or the "
        "nearest one above it holding runbook.toml.",
        json_schema_extra=_env("RUNBOOK_REPO"),
    )
    user: str = Field(
        default="",
        description="Who is acting when `--as` is not given; then git's user.email, then "
        "the OS user.",
        json_schema_extra=_env("RUNBOOK_USER"),
    )
    debug: bool = Field(
        default=False,
        description="Any non-empty value: print the traceback of an unexpected error (`--debug`).",
        json_schema_extra=_env("RUNBOOK_DEBUG"),
    )
    secrets_dir: Path = Field(
        default=Path("/run/secrets"),  # runbook.secrets reads it in kernels, without pydantic
        description="The folder searched for secret files (`secret:NAME`), where Docker and "
        "Kubernetes mount them.",
        json_schema_extra=_env("RUNBOOK_SECRETS_DIR"),
    )
    notify_urls: str = Field(
        default="",
        description="Where a notebook's `notify()` sends, over `notify.urls` (comma or space "
        "separated apprise URLs or secret references).",
        json_schema_extra=_env("RUNBOOK_NOTIFY_URLS"),
    )
    lease_seconds: float = Field(
        default=DEFAULT_LEASE_SECONDS,
        description="How long a run's, workflow run's or playbook run's lease lasts without "
        "a heartbeat (one every third of it); a record whose lease expired is marked "
        "interrupted by the next command that looks. Every process on one store should agree.",
        json_schema_extra=_env("RUNBOOK_LEASE_SECONDS"),
    )
    store_retry: float | None = Field(
        default=None,
        description="How long a run keeps retrying a store that dropped its connection "
        "before it stops interrupted; default: one lease.",
        json_schema_extra=_env("RUNBOOK_STORE_RETRY_SECONDS"),
    )
    server: str = Field(
        default="",
        description="The Runbook server `plan`, `review`, `run`, `runs` and `log` talk to "
        "(`--server`); default: the one `runbook login` logged in to last.",
        json_schema_extra=_env("RUNBOOK_SERVER"),
    )
    token: str = Field(
        default="",
        description="The API token sent to that server; default: the one `runbook login` "
        "kept (0600) under $XDG_CONFIG_HOME/runbook/.",
        json_schema_extra=_env("RUNBOOK_TOKEN"),
    )
    chromium: str = Field(
        default="",
        description="The Chromium that prints PDF reports; default: /usr/bin/chromium, "
        "else chromium, chromium-browser or google-chrome on PATH.",
        json_schema_extra=_env("RUNBOOK_CHROMIUM"),
    )

    @field_validator("debug", mode="before")
    @classmethod
    def _flag(cls, value: object) -> bool:
        return bool(value)

    @field_validator("lease_seconds", "store_retry", mode="before")
    @classmethod
    def _seconds(cls, value: object, info: ValidationInfo) -> float | None:
        if value is None or isinstance(value, float):  # the defaults
            return value
        name = _VARIABLES[info.field_name or ""]
        try:
            seconds = float(str(value))
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a number") from None
        if info.field_name == "lease_seconds" and not (math.isfinite(seconds) and seconds > 0):
            raise ConfigError(name, f"{value!r} is not a number of seconds above zero")
        if not seconds >= 0:
            raise ConfigError(name, f"{value!r} is not zero or more")
        return seconds

    @property
    def store_retry_seconds(self) -> float:
        """``store_retry``, or one lease when it is not set."""
        return self.lease_seconds if self.store_retry is None else self.store_retry


def process_settings(environ: Mapping[str, str] | None = None) -> ProcessSettings:
    """The process settings from ``environ`` (default: the environment as it is now).

    Built once per distinct set of ``RUNBOOK_*`` values: building costs milliseconds (a
    service asks for the lease on every listing), reading the variables microseconds, so a
    changed variable is still seen at once.
    """
    env = os.environ if environ is None else environ
    told = tuple(sorted((k, v) for k, v in env.items() if k.startswith("RUNBOOK_")))
    known = _BUILT.get(told)
    if known is None:
        inputs = _Inputs(root=Path(), where="environment", data={}, environ=dict(told))
        with _loading(inputs):
            known = ProcessSettings()
        _BUILT.clear()  # one entry is enough: the environment rarely changes
        _BUILT[told] = known
    return known


_BUILT: dict[tuple[tuple[str, str], ...], ProcessSettings] = {}
