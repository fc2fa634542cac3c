"""How long finished records are kept: the ``[retention]`` table of ``runbook.toml``.

.. code-block:: toml

    [retention]
    runs = "90d"            # runs, their cell events and runs/<run>/
    workflow_runs = "90d"   # workflow runs, their task records and runs/<workflow run>/
    playbook_runs = "30d"   # playbook runs and their target records

A time to live is a number and a unit: ``s``, ``m``, ``h``, ``d`` or ``w`` (``"36h"``,
``"2w"``). A kind without a TTL is kept forever. Only finished records older than their TTL
(by the time they ended) are removed; nothing running is ever touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from runbook.errors import ConfigError

RETENTION_KINDS: Final = ("runs", "workflow_runs", "playbook_runs")
_TTL = re.compile(r"^\s*([0-9]+)\s*([smhdw])\s*$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX_TTL: Final = timedelta(days=36_525)


@dataclass(frozen=True)
class RetentionPolicy:
    """The time to live of each kind of finished record; None keeps them forever."""

    runs: timedelta | None = None
    workflow_runs: timedelta | None = None
    playbook_runs: timedelta | None = None

    def ttl(self, kind: str) -> timedelta | None:
        """The TTL of ``kind`` (one of :data:`RETENTION_KINDS`)."""
        value: timedelta | None = getattr(self, kind)
        return value


def parse_ttl(raw: object, where: str) -> timedelta:
    """``"90d"``-style text as a timedelta; ConfigError naming ``where`` otherwise."""
    match = _TTL.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ConfigError(where, f'{raw!r} is not a duration such as "90d", "36h" or "2w"')
    try:
        ttl = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        ttl = _MAX_TTL + timedelta(days=1)
    # gc subtracts the TTL from now: past a few thousand years that is no date at all.
    if ttl > _MAX_TTL:
        raise ConfigError(
            where, f"{raw!r} is longer than 100 years; leave it unset to keep records forever"
        )
    return ttl


def parse_retention(table: dict[str, object], where: str) -> RetentionPolicy:
    """The policy of a ``[retention]`` table; unknown keys and bad durations raise ConfigError."""
    for key in table:
        if key not in RETENTION_KINDS:
            raise ConfigError(
                f"{where}.{key}", f"unknown key (expected one of: {', '.join(RETENTION_KINDS)})"
            )
    return RetentionPolicy(**{kind: parse_ttl(table[kind], f"{where}.{kind}") for kind in table})
