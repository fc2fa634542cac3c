"""The catalog as it is written in ``catalog/*.yml``: services, error codes and procedures.

Every file may hold any of three lists, merged in file-name order::

    services:
      - name: checkout            # unique; letters, digits, - _ .
        owner: alice
        team: payments
        tier: 1
        tags: [java, payments]
        links: {dashboard: "https://grafana.example/d/checkout"}
        labels: {service: checkout}   # the alert labels that identify it (default: service=NAME)
    error_codes:
      - code: DB_POOL_EXHAUSTED
        title: Database connection pool exhausted
        severity: critical
        description: …
        user_sees: checkout fails with HTTP 503
        check_first: the database's active connections
    procedures:
      - name: restart-pods        # unique: the rule, and the caller catalog:NAME
        code: DB_POOL_EXHAUSTED   # exact, or code_pattern: "DB_.*" (a full regex match)
        for: "*"                  # "*" (the platform), service:NAME or tag:NAME
        mode: override            # override | extend | suppress (see model.catalog.resolution)
        match: {env: prod, region: "~eu-.*"}   # label matchers: exact, or ~REGEX
        runbook: restart          # a runbook name or path under runbooks/
        parameters: {host: "{{ labels.instance }}"}
        policy: suggest           # manual | suggest | auto

A parameter value is text with ``{{ labels.NAME }}``, ``{{ annotations.NAME }}``,
``{{ service.FIELD }}`` or ``{{ code }}`` in it: dotted names only, never expressions
(:mod:`runbook.model.catalog.mapping`); the runbook's parameters still type and check it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from runbook.errors import SpecError

Policy = Literal["manual", "suggest", "auto"]
Mode = Literal["override", "extend", "suppress"]
POLICIES: Final = ("manual", "suggest", "auto")
MODES: Final = ("override", "extend", "suppress")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


@dataclass(frozen=True)
class Service:
    """A service the support team answers for."""

    name: str
    owner: str = ""
    team: str = ""
    tier: str = ""
    tags: tuple[str, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def identifying_labels(self) -> Mapping[str, str]:
        """The labels an alert must carry to be about this service (``service=NAME`` unless
        the catalog declares others)."""
        return self.labels or {"service": self.name}


@dataclass(frozen=True)
class ErrorCode:
    """An error code: what it means, what the user sees, what to check first."""

    code: str
    title: str = ""
    severity: str = ""
    description: str = ""
    user_sees: str = ""
    check_first: str = ""


@dataclass(frozen=True)
class Matcher:
    """One label matcher: the label equals ``value``, or fully matches it as a regex."""

    label: str
    value: str
    regex: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label never does)."""
        found = labels.get(self.label)
        if found is None:
            return False
        return re.fullmatch(self.value, found) is not None if self.regex else found == self.value

    def describe(self) -> str:
        """As written in the catalog."""
        return f"{self.label}=~{self.value}" if self.regex else f"{self.label}={self.value}"


@dataclass(frozen=True)
class Procedure:
    """A rule: an error code (or pattern) for a scope, answered by a runbook under a policy."""

    name: str
    scope: str  # "*", "service:NAME" or "tag:NAME"
    code: str | None = None
    code_pattern: str | None = None
    mode: Mode = "override"
    matchers: tuple[Matcher, ...] = ()
    runbook: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    policy: Policy = "manual"
    where: str = ""  # file and dotted path, for messages

    def matches_code(self, code: str) -> bool:
        """Whether this rule is about ``code``."""
        if self.code is not None:
            return self.code == code
        return self.code_pattern is not None and re.fullmatch(self.code_pattern, code) is not None

    @property
    def scope_kind(self) -> str:
        """``platform``, ``service`` or ``tag``."""
        return "platform" if self.scope == "*" else self.scope.partition(":")[0]

    @property
    def scope_name(self) -> str:
        """The service or tag the scope names ("*" for the platform)."""
        return self.scope.partition(":")[2] or "*"

    @property
    def caller(self) -> str:
        """The unattended caller a standing approval names for this rule."""
        return f"catalog:{self.name}"


@dataclass(frozen=True)
class Catalog:
    """The whole catalog: every file merged."""

    services: Mapping[str, Service] = field(default_factory=dict)
    codes: Mapping[str, ErrorCode] = field(default_factory=dict)
    procedures: tuple[Procedure, ...] = ()


def catalog_to_json(catalog: Catalog) -> dict[str, Any]:
    """The form kept in the store (:func:`catalog_from_json` reads it back)."""
    return {
        "services": [
            {
                "name": s.name,
                "owner": s.owner,
                "team": s.team,
                "tier": s.tier,
                "tags": list(s.tags),
                "links": dict(s.links),
                "labels": dict(s.labels),
            }
            for s in catalog.services.values()
        ],
        "error_codes": [vars(c).copy() for c in catalog.codes.values()],
        "procedures": [
            {
                "name": p.name,
                "for": p.scope,
                **({"code": p.code} if p.code is not None else {}),
                **({"code_pattern": p.code_pattern} if p.code_pattern is not None else {}),
                "mode": p.mode,
                "match": {m.label: f"~{m.value}" if m.regex else m.value for m in p.matchers},
                **({"runbook": p.runbook} if p.runbook is not None else {}),
                "parameters": dict(p.parameters),
                "policy": p.policy,
                "where": p.where,
            }
            for p in catalog.procedures
        ],
    }


def catalog_from_json(data: Mapping[str, Any]) -> Catalog:
    """The catalog :func:`catalog_to_json` stored (already validated when imported)."""
    from runbook.model.catalog.catalog_parse import build_catalog

    catalog, errors = build_catalog([("store", dict(data))])
    if errors:
        raise errors[0]
    return catalog


def check_name(value: object, where: str, what: str = "name", *, code: bool = False) -> str:
    """``value`` as a catalog name (or error code); SpecError at ``where`` otherwise."""
    pattern = _CODE if code else _NAME
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecError(
            where,
            f"{what} must be text of letters, digits and {'_ . : -' if code else '_ . -'} "
            f"(not {value!r})",
        )
    return value
