"""The ``[catalog]`` keys of ``runbook.toml``: which settings fields they are, and their check."""

from __future__ import annotations

from typing import Final

from runbook.errors import ConfigError

#: The settings fields read from ``[catalog]``.
CATALOG_FIELDS: Final = (
    "catalog_base_url",
    "catalog_code_label",
    "catalog_cooldown",
    "catalog_rate_limit",
    "catalog_sources",
)
_COUNTS: Final = ("catalog_cooldown", "catalog_rate_limit")


def check_catalog_value(field_name: str, value: object, where: str) -> object:
    """``value`` for the ``[catalog]`` field ``field_name``, or ConfigError at ``where``:
    counts are whole numbers ≥ 0, ``sources`` alert sources
    (:mod:`runbook.model.catalog.alert_sources`), the rest text (the base URL without its
    trailing ``/``)."""
    key = field_name.removeprefix("catalog_")
    if field_name == "catalog_sources":
        from runbook.model.catalog.alert_sources import parse_sources

        return parse_sources(value, where)
    if field_name in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(where, f"{key} must be a whole number ≥ 0")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ConfigError(where, f"{key} must be text")
    return value.strip().rstrip("/") if field_name == "catalog_base_url" else value
