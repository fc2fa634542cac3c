"""Checking what starts a workflow: native triggers and AutoFlow's ``available_dates_sensor``.

A date a sensor reads from YAML may be written unquoted (YAML makes it a date) or quoted (a
string): both are accepted, and kept as ISO text in the trigger, so that the definition a
workflow run freezes in its record is plain JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Final, cast

from runbook.model.spec_builder import describe
from runbook.model.workflows.workflow import (
    CDR_TYPES,
    SENSOR_TYPES,
    AvailableDatesSensor,
    SensorWorkflow,
    Trigger,
    WorkflowSpec,
    cron_problem,
    timezone_problem,
)
from runbook.model.workflows.workflow_checks import Accepts, WorkflowChecks

_SENSOR_KEYS: Final = ("schedule", "cdr_types", "workflows")
_ENTRY_KEYS: Final = ("workflow_name", "parameters", "earliest_date", "date_stencil")
_COMMON_SENSOR_KEYS: Final = (
    *("schedule", "timezone", "parameters", "earliest_date", "date_stencil"),
)
_SENSOR_CONFIG: Final[dict[str, tuple[str, ...]]] = {
    "available_dates": ("url", "cdr_types"),
    "http": ("url", "field"),
    "glob": ("pattern", "date_regex"),
    "command": ("command",),
    "sql": ("url", "query"),
}
_REQUIRED_SENSOR_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "http": ("url",),
    "glob": ("pattern",),
    "command": ("command",),
    "sql": ("url", "query"),
}


def as_date(value: object) -> object:
    """``value`` as a date when it is one or an ISO date string; else unchanged."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value)
    return value


def is_date(value: object) -> bool:
    """A date, not a datetime."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


class TriggerChecks(WorkflowChecks):
    """Native ``triggers`` and the file-level ``available_dates_sensor``."""

    def triggers(self, raw: object, where: str) -> list[Trigger]:
        """A workflow's ``triggers``: ``manual``, ``{schedule, timezone}``, ``{sensor, config}``."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(where, f"expected a list of triggers, not {describe(raw)}")
            return []
        triggers: list[Trigger] = []
        for index, item in enumerate(raw):
            path = f"{where}[{index}]"
            if item == "manual":
                triggers.append(Trigger("manual"))
            elif isinstance(item, dict) and "schedule" in item:
                self.mapping(item, path, ("schedule", "timezone"))
                cron, zone = item.get("schedule"), item.get("timezone", "UTC")
                ok = True
                if not isinstance(cron, str):
                    self.fail(f"{path}.schedule", f"expected a cron string, not {describe(cron)}")
                    ok = False
                elif problem := cron_problem(cron):
                    self.fail(f"{path}.schedule", problem)
                    ok = False
                if problem := timezone_problem(zone):
                    self.fail(f"{path}.timezone", problem)
                    ok = False
                if ok:
                    triggers.append(Trigger("schedule", cron=cast(str, cron), timezone=zone))
            elif isinstance(item, dict) and "sensor" in item:
                self.mapping(item, path, ("sensor", "config"))
                kind, config = item.get("sensor"), item.get("config")
                if kind not in SENSOR_TYPES:
                    expected = ", ".join(SENSOR_TYPES)
                    self.fail(f"{path}.sensor", f"unknown sensor {describe(kind)} ({expected})")
                elif config is not None and not isinstance(config, dict):
                    self.fail(f"{path}.config", f"expected a mapping, not {describe(config)}")
                elif (
                    checked := self.sensor_config(cast(str, kind), config or {}, f"{path}.config")
                ) is not None:
                    triggers.append(Trigger("sensor", sensor_type=cast(str, kind), config=checked))
            else:
                self.fail(path, "expected `manual`, {schedule, timezone} or {sensor, config}")
        return triggers

    def sensor_config(self, kind: str, config: dict[str, Any], where: str) -> dict[str, Any] | None:
        """Check a native sensor's config; the config to keep (None when it cannot be polled)."""
        before = len(self.errors)
        specific = _SENSOR_CONFIG[kind]
        self.mapping(config, where, (*_COMMON_SENSOR_KEYS, *specific))
        for key in _REQUIRED_SENSOR_KEYS.get(kind, ()):
            if key not in config:
                self.fail(f"{where}.{key}", f"missing: the {kind} sensor needs it")
        cdr_types = config.get("cdr_types")
        if cdr_types is not None and (
            not isinstance(cdr_types, list) or any(t not in CDR_TYPES for t in cdr_types)
        ):
            self.fail(f"{where}.cdr_types", f"expected a list of {', '.join(CDR_TYPES)}")
        for key in ("url", "field", "pattern", "date_regex", "query"):
            if key in config and (not isinstance(config[key], str) or not config[key]):
                self.fail(f"{where}.{key}", f"expected text, not {describe(config[key])}")
        command = config.get("command")
        if "command" in config and not (
            (isinstance(command, str) and command.strip())
            or (isinstance(command, list) and command and all(isinstance(a, str) for a in command))
        ):
            self.fail(f"{where}.command", "expected a command line or a list of arguments")
        schedule = config.get("schedule")
        if schedule is not None:
            problem = cron_problem(schedule) if isinstance(schedule, str) else "expected a string"
            if problem:
                self.fail(f"{where}.schedule", problem)
        if problem := timezone_problem(config.get("timezone", "UTC")):
            self.fail(f"{where}.timezone", problem)
        self.names_mapping(config.get("parameters"), f"{where}.parameters")
        kept = dict(config)
        earliest = as_date(config.get("earliest_date"))
        if earliest is not None and not is_date(earliest):
            self.fail(f"{where}.earliest_date", f"not a date YYYY-MM-DD: {describe(earliest)}")
        elif earliest is not None:
            kept["earliest_date"] = cast(dt.date, earliest).isoformat()
        self.stencil(config.get("date_stencil"), where)
        return kept if len(self.errors) == before else None

    def sensor(
        self,
        raw: object,
        names: set[str],
        workflows: dict[str, WorkflowSpec],
        accepted: dict[str, Accepts],
    ) -> AvailableDatesSensor | None:
        """AutoFlow's ``available_dates_sensor``; its entries become the workflows' triggers."""
        where = "available_dates_sensor"
        item = self.mapping(raw, where, _SENSOR_KEYS)
        if item is None:
            return None
        schedule = item.get("schedule")
        if schedule is not None:
            problem = cron_problem(schedule) if isinstance(schedule, str) else "expected a string"
            if problem:
                self.fail(f"{where}.schedule", f"{problem} (or null to run once)")
                schedule = None
        cdr_types = self.cdr_types(item.get("cdr_types"), f"{where}.cdr_types")
        entries = item.get("workflows")
        if not isinstance(entries, list):
            self.fail(
                f"{where}.workflows", f"expected a list of workflows, not {describe(entries)}"
            )
            entries = []
        built = [
            entry
            for index, raw_entry in enumerate(entries)
            if (entry := self.entry(raw_entry, f"{where}.workflows[{index}]", names, accepted))
        ]
        for entry in built:
            if entry.workflow_name in workflows:
                config = {"cdr_types": cdr_types, "parameters": entry.parameters}
                workflows[entry.workflow_name].triggers.append(
                    Trigger("sensor", cron=schedule, sensor_type="available_dates", config=config)
                )
        return AvailableDatesSensor(schedule, cdr_types, built)

    def cdr_types(self, raw: object, where: str) -> list[str] | None:
        """A list of CDR types (unknown ones named and left out), or None."""
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.fail(where, f"expected a list, not {describe(raw)}")
            return None
        allowed = ", ".join(CDR_TYPES)
        for index, kind in enumerate(raw):
            if kind not in CDR_TYPES:
                self.fail(
                    f"{where}[{index}]", f"unknown CDR type {describe(kind)} (any of {allowed})"
                )
        return [kind for kind in raw if kind in CDR_TYPES]

    def entry(
        self, raw: object, where: str, names: set[str], accepted: dict[str, Accepts]
    ) -> SensorWorkflow | None:
        """One workflow the sensor runs, with the parameters it passes."""
        item = self.mapping(raw, where, _ENTRY_KEYS)
        if item is None:
            return None
        name = item.get("workflow_name")
        known = isinstance(name, str) and name in names
        if not known:
            self.fail(f"{where}.workflow_name", f"no workflow named {name!r} in `workflows`")
        parameters = self.names_mapping(item.get("parameters"), f"{where}.parameters")
        if known and cast(str, name) in accepted:
            self.sensor_parameters(
                parameters, accepted[cast(str, name)], cast(str, name), f"{where}.parameters"
            )
        earliest = self.earliest(item.get("earliest_date"), f"{where}.earliest_date")
        stencil = self.stencil(item.get("date_stencil"), where)
        if not isinstance(name, str):
            return None
        return SensorWorkflow(name, parameters, earliest, stencil)

    def earliest(self, raw: object, where: str) -> dt.date | None:
        """An ``earliest_date``, quoted or not; None when absent or invalid (named)."""
        earliest = as_date(raw)
        if earliest is not None and not is_date(earliest):
            self.fail(where, f"not a date YYYY-MM-DD: {describe(earliest)}")
            return None
        return cast("dt.date | None", earliest)


def sensor_workflow_names(raw: object) -> set[str]:
    """The names of the workflows an ``available_dates_sensor`` runs (no checks)."""
    entries = raw.get("workflows") if isinstance(raw, dict) else None
    return {
        entry["workflow_name"]
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("workflow_name"), str)
    }
