"""The alert sources of ``[catalog.sources.NAME]``: what sends, how it proves itself, where.

One table per source, its name the last part of the webhook's URL
(``POST /alerts/<kind>/<name>``)::

    [catalog.sources.prod]
    kind = "alertmanager"            # alertmanager | grafana | pagerduty | generic
    auth = "bearer"                  # bearer | hmac (pagerduty: always its v1 signature)
    secret_env = "RUNBOOK_ALERT_PROD"  # the variable holding the secret (or secret = "…")
    header = "X-Grafana-Alerting-Signature"  # hmac: where the hex digest is
    # generic only: dotted paths into the JSON body
    labels = { service = "svc", error_code = "code" }
    fingerprint = "id"
    starts_at = "at"
    status = "state"
    resolved_value = "ok"

The secret is read from the environment when a webhook arrives, never when the settings
load, so a command that does not serve never needs it. Its variable must start with
``RUNBOOK_ALERT_``: those are credentials (:mod:`runbook.credentials`), kept from kernels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from runbook.errors import ConfigError
from runbook.model.catalog.alert_payloads import GenericMapping
from runbook.model.catalog.webhook_auth import AuthKind, SourceSecret

SOURCE_KINDS: Final = ("alertmanager", "grafana", "pagerduty", "generic")
SECRET_PREFIX: Final = "RUNBOOK_ALERT_"  # noqa: S105 - a variable name prefix
_KEYS: Final = frozenset(
    {"kind", "auth", "secret", "secret_env", "header", "labels", "annotations"}
    | {"fingerprint", "starts_at", "status", "resolved_value"}
)
_GENERIC_PATHS: Final = ("fingerprint", "starts_at", "status", "resolved_value")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class AlertSource:
    """One configured sender of alerts."""

    name: str
    kind: str
    auth: AuthKind
    secret: str = ""
    secret_env: str = ""
    header: str = "X-Runbook-Signature"
    mapping: GenericMapping | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"AlertSource({self.name!r}, {self.kind!r}, {self.auth!r})"

    @property
    def recorded_as(self) -> str:
        """The ``source`` of its alert records: ``<kind>:<name>``."""
        return f"{self.kind}:{self.name}"

    def sender_secret(self, environ: Mapping[str, str]) -> SourceSecret:
        """Its secret check, the secret read from ``environ`` now (empty when unset: then
        every delivery is refused)."""
        value = environ.get(self.secret_env, "") if self.secret_env else self.secret
        return SourceSecret(self.recorded_as, self.auth, value, self.header)


def _text(table: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or "\x00" in value or "\n" in value:
        raise ConfigError(f"{where}.{key}", "must be one line of text")
    return value.strip()


def _paths(table: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise ConfigError(f"{where}.{key}", "must be a table of names to dotted paths")
    return {k: v.strip() for k, v in value.items()}


def parse_source(name: str, table: object, where: str) -> AlertSource:
    """The source ``name`` of ``[catalog.sources]``; ConfigError naming the key otherwise."""
    where = f"{where}.sources.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(where, "a source's name is letters, digits, _ . - (at most 64)")
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "is not a key of an alert source")
    kind = _text(table, "kind", where)
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}.kind", f"{kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    auth = "pagerduty" if kind == "pagerduty" else _text(table, "auth", where, "bearer")
    if auth not in ("bearer", "hmac", "pagerduty"):
        raise ConfigError(f"{where}.auth", f"{auth!r} is not one of bearer, hmac")
    secret, secret_env = _text(table, "secret", where), _text(table, "secret_env", where)
    if bool(secret) == bool(secret_env):
        raise ConfigError(where, "needs exactly one of secret and secret_env")
    if secret_env and not secret_env.startswith(SECRET_PREFIX):
        raise ConfigError(f"{where}.secret_env", f"must start with {SECRET_PREFIX}")
    mapping = None
    if kind == "generic":
        labels = _paths(table, "labels", where)
        if not labels:
            raise ConfigError(f"{where}.labels", "a generic source must map its labels")
        paths = {k: _text(table, k, where) for k in _GENERIC_PATHS if k in table}
        annotations = _paths(table, "annotations", where)
        mapping = GenericMapping(name=name, labels=labels, annotations=annotations, **paths)
    return AlertSource(
        name=name,
        kind=kind,
        auth=auth,  # type: ignore[arg-type]
        secret=secret,
        secret_env=secret_env,
        header=_text(table, "header", where, "X-Runbook-Signature"),
        mapping=mapping,
    )


def parse_sources(value: object, where: str) -> dict[str, AlertSource]:
    """Every source of ``[catalog.sources]`` by name."""
    if isinstance(value, dict) and all(isinstance(v, AlertSource) for v in value.values()):
        return value  # the default, or parsed already
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.sources", "must be a table of alert sources")
    return {str(name): parse_source(str(name), table, where) for name, table in value.items()}
