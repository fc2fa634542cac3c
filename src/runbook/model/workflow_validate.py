"""Checking a parsed workflows document and building its dataclasses, collecting every error.

Used by :mod:`runbook.model.workflow`: every problem becomes a SpecError at its path in the
document, and building goes on so that one pass reports them all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from typing import Any, Final, cast

from runbook.errors import ParameterError, SpecError
from runbook.model.parameters import check_name
from runbook.model.spec_builder import SpecBuilder
from runbook.model.stencil import parse_stencil
from runbook.model.workflow import (
    AUTOMATIC_PARAMETERS,
    CDR_TYPES,
    OUTPUT_FORMATS,
    SENSOR_TYPES,
    SETTING_NAMES,
    AvailableDatesSensor,
    OutputFormat,
    OutputSpec,
    SensorWorkflow,
    TaskSpec,
    Trigger,
    WorkflowFile,
    WorkflowSpec,
    cron_problem,
    describe,
    find_cycles,
    path_problem,
    timezone_problem,
)

_TOP_KEYS: Final = ("workflows", "available_dates_sensor")
_WORKFLOW_KEYS: Final = ("name", "notebooks", "parameters", "triggers")
_TASK_KEYS: Final = ("filename", "parameters", "output", "retries", "retry_delay", "timeout")
_OUTPUT_KEYS: Final = ("format", "template")
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
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _Builder(SpecBuilder):
    def name(self, raw: object, where: str) -> bool:
        try:
            check_name(raw)
        except ParameterError as error:
            self.fail(where, f"{raw!r} is {error.reason}")
            return False
        return True

    def names_mapping(self, raw: object, where: str) -> dict[str, Any]:
        """A mapping of valid names to values (``null`` is an empty mapping)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping, not {describe(raw)}")
            return {}
        return {key: value for key, value in raw.items() if self.name(key, f"{where}.{key}")}

    def document(self, raw: object, where: str) -> WorkflowFile | None:
        if raw is None:
            self.fail(where, "empty document: expected a mapping with a 'workflows' list")
            return None
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping at the top level, not {describe(raw)}")
            return None
        for key in raw:
            if key not in _TOP_KEYS:
                self.fail(str(key), f"unknown key (expected one of: {', '.join(_TOP_KEYS)})")
        items = raw.get("workflows")
        if "workflows" not in raw:
            self.fail("workflows", "missing: expected a list of workflows")
            items = []
        elif not isinstance(items, list):
            self.fail("workflows", f"expected a list of workflows, not {describe(items)}")
            items = []
        supplied = _supplied_parameters(raw.get("available_dates_sensor"))
        workflows: dict[str, WorkflowSpec] = {}
        needed: dict[str, set[str]] = {}
        first_seen: dict[str, int] = {}
        for index, item in enumerate(items):
            path = f"workflows[{index}]"
            name = item.get("name") if isinstance(item, dict) else None
            name = name if isinstance(name, str) else None
            duplicate = name is not None and name in first_seen
            if name is not None and duplicate:
                self.fail(
                    f"{path}.name",
                    f"duplicate workflow name {name!r} (also workflows[{first_seen[name]}])",
                )
            elif name is not None:
                first_seen[name] = index
            built = self.workflow(item, path, supplied.get(name, set()) if name else set())
            if built is not None and not duplicate:
                workflows[built[0].name] = built[0]
                needed[built[0].name] = built[1]
        sensor = None
        if "available_dates_sensor" in raw:
            sensor = self.sensor(raw["available_dates_sensor"], set(first_seen), workflows, needed)
        return WorkflowFile(workflows=workflows, sensor=sensor)

    def workflow(
        self, raw: object, path: str, supplied: set[str]
    ) -> tuple[WorkflowSpec, set[str]] | None:
        item = self.mapping(raw, path, _WORKFLOW_KEYS)
        if item is None:
            return None
        name = item.get("name")
        if "name" not in item:
            self.fail(f"{path}.name", "missing: every workflow needs a unique name")
        elif not isinstance(name, str) or not _WORKFLOW_NAME.fullmatch(name):
            self.fail(
                f"{path}.name", f"expected a name of letters, digits, _ . -, not {describe(name)}"
            )
        declared, required = self.declared_parameters(item.get("parameters"), f"{path}.parameters")
        notebooks = item.get("notebooks")
        if "notebooks" not in item:
            self.fail(f"{path}.notebooks", "missing: expected a mapping of task key → task")
            notebooks = {}
        elif not isinstance(notebooks, dict) or not notebooks:
            self.fail(
                f"{path}.notebooks", f"expected a non-empty mapping, not {describe(notebooks)}"
            )
            notebooks = {}
        keys = {key for key in notebooks if isinstance(key, str)}
        for parameter in declared:
            if parameter in keys:
                self.fail(f"{path}.parameters.{parameter}", "is also a task key: rename one")
        known = set(declared) | supplied | set(AUTOMATIC_PARAMETERS) | set(SETTING_NAMES)
        tasks: dict[str, TaskSpec] = {}
        plain: set[str] = set()
        for key, task_raw in notebooks.items():
            where = f"{path}.notebooks.{key}"
            if not self.name(key, where):
                continue
            task = self.task(key, task_raw, where)
            if task is None:
                continue
            tasks[key] = task
            for parameter, reference in task.parameters.items():
                if reference == key:
                    self.fail(f"{where}.parameters.{parameter}", "refers to its own task")
                elif reference not in keys and reference not in known:
                    self.fail(f"{where}.parameters.{parameter}", f"unknown reference {reference!r}")
                elif reference not in keys and reference in (set(declared) | supplied):
                    plain.add(reference)
        self.cycles(tasks, f"{path}.notebooks")
        triggers = self.triggers(item.get("triggers"), f"{path}.triggers")
        if not isinstance(name, str):
            return None
        spec = WorkflowSpec(name, tasks, declared, triggers, tuple(required))
        return spec, {ref for ref in plain if ref not in declared or ref in required}

    def declared_parameters(self, raw: object, where: str) -> tuple[dict[str, Any], list[str]]:
        if raw is None:
            return {}, []
        if isinstance(raw, list):
            names = [n for i, n in enumerate(raw) if self.name(n, f"{where}[{i}]")]
            return dict.fromkeys(names), names
        return self.names_mapping(raw, where), []

    def task(self, key: str, raw: object, where: str) -> TaskSpec | None:
        item = self.mapping(raw, where, _TASK_KEYS)
        if item is None:
            return None
        filename = item.get("filename")
        if "filename" not in item:
            self.fail(f"{where}.filename", "missing: the notebook to execute")
        elif problem := path_problem(filename):
            self.fail(f"{where}.filename", problem)
        parameters: dict[str, str] = {}
        for parameter, reference in self.names_mapping(
            item.get("parameters"), f"{where}.parameters"
        ).items():
            if isinstance(reference, str):
                parameters[parameter] = reference
            else:
                self.fail(
                    f"{where}.parameters.{parameter}",
                    f"expected a reference (a workflow parameter, task key, automatic "
                    f"parameter or setting name), not {describe(reference)}",
                )
        output = self.output(item.get("output"), f"{where}.output")
        retries = item.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            self.fail(f"{where}.retries", f"expected an integer ≥ 0, not {describe(retries)}")
            retries = 0
        delay = item.get("retry_delay", 0.0)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            self.fail(f"{where}.retry_delay", f"expected seconds ≥ 0, not {describe(delay)}")
            delay = 0.0
        timeout = item.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            self.fail(f"{where}.timeout", f"expected seconds > 0, not {describe(timeout)}")
            timeout = None
        # Built even when invalid (only a file without errors loads) so cycles still show.
        name = filename if isinstance(filename, str) else ""
        seconds = float(timeout) if timeout is not None else None
        return TaskSpec(key, name, parameters, output, retries, float(delay), seconds)

    def output(self, raw: object, where: str) -> OutputSpec | None:
        if raw is None:
            return None
        item = self.mapping(raw, where, _OUTPUT_KEYS)
        if item is None:
            return None
        fmt = item.get("format")
        if fmt not in OUTPUT_FORMATS:
            self.fail(f"{where}.format", f"expected pdf or html, not {describe(fmt)}")
            return None
        template = item.get("template")
        if template is not None and (problem := path_problem(template)):
            self.fail(f"{where}.template", problem)
            return None
        return OutputSpec(cast(OutputFormat, fmt), cast("str | None", template))

    def cycles(self, tasks: dict[str, TaskSpec], where: str) -> None:
        graph = {
            key: [ref for ref in task.parameters.values() if ref in tasks and ref != key]
            for key, task in tasks.items()
        }
        for cycle in find_cycles(graph):
            self.fail(where, f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}")

    def triggers(self, raw: object, where: str) -> list[Trigger]:
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
                elif self.sensor_config(cast(str, kind), config or {}, f"{path}.config"):
                    triggers.append(
                        Trigger("sensor", sensor_type=cast(str, kind), config=dict(config or {}))
                    )
            else:
                self.fail(path, "expected `manual`, {schedule, timezone} or {sensor, config}")
        return triggers

    def sensor_config(self, kind: str, config: dict[str, Any], where: str) -> bool:
        """Check a native sensor's config; True when it can be polled."""
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
        earliest = config.get("earliest_date")
        if earliest is not None and not isinstance(earliest, dt.date):
            self.fail(f"{where}.earliest_date", f"not a date YYYY-MM-DD: {describe(earliest)}")
        self.stencil(config.get("date_stencil"), where)
        return len(self.errors) == before

    def sensor(
        self,
        raw: object,
        names: set[str],
        workflows: dict[str, WorkflowSpec],
        needed: dict[str, set[str]],
    ) -> AvailableDatesSensor | None:
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
        cdr_types = item.get("cdr_types")
        if cdr_types is not None:
            if not isinstance(cdr_types, list):
                self.fail(f"{where}.cdr_types", f"expected a list, not {describe(cdr_types)}")
                cdr_types = None
            else:
                allowed = ", ".join(CDR_TYPES)
                for index, kind in enumerate(cdr_types):
                    if kind not in CDR_TYPES:
                        where_ = f"{where}.cdr_types[{index}]"
                        self.fail(where_, f"unknown CDR type {describe(kind)} (any of {allowed})")
                cdr_types = [kind for kind in cdr_types if kind in CDR_TYPES]
        entries = item.get("workflows")
        if not isinstance(entries, list):
            self.fail(
                f"{where}.workflows", f"expected a list of workflows, not {describe(entries)}"
            )
            entries = []
        built = [
            entry
            for index, raw_entry in enumerate(entries)
            if (entry := self.entry(raw_entry, f"{where}.workflows[{index}]", names, needed))
        ]
        for entry in built:
            if entry.workflow_name in workflows:
                config = {"cdr_types": cdr_types, "parameters": entry.parameters}
                workflows[entry.workflow_name].triggers.append(
                    Trigger("sensor", cron=schedule, sensor_type="available_dates", config=config)
                )
        return AvailableDatesSensor(schedule, cdr_types, built)

    def entry(
        self, raw: object, where: str, names: set[str], needed: dict[str, set[str]]
    ) -> SensorWorkflow | None:
        item = self.mapping(raw, where, _ENTRY_KEYS)
        if item is None:
            return None
        name = item.get("workflow_name")
        known = isinstance(name, str) and name in names
        if not known:
            self.fail(f"{where}.workflow_name", f"no workflow named {name!r} in `workflows`")
        parameters = self.names_mapping(item.get("parameters"), f"{where}.parameters")
        wanted = needed.get(cast(str, name), set()) if known else set()
        for missing in sorted(wanted - set(parameters)):
            self.fail(f"{where}.parameters", f"missing {missing!r}, needed by workflow {name!r}")
        earliest = item.get("earliest_date")
        if isinstance(earliest, str):
            with contextlib.suppress(ValueError):
                earliest = dt.date.fromisoformat(earliest)
        if earliest is not None and (
            not isinstance(earliest, dt.date) or isinstance(earliest, dt.datetime)
        ):
            self.fail(f"{where}.earliest_date", f"not a date YYYY-MM-DD: {describe(earliest)}")
            earliest = None
        stencil = self.stencil(item.get("date_stencil"), where)
        if not isinstance(name, str):
            return None
        return SensorWorkflow(name, parameters, earliest, stencil)

    def stencil(self, raw: object, where: str) -> Any:
        if raw is None:
            return None
        try:
            return parse_stencil(raw, "date_stencil")
        except SpecError as error:
            self.fail(f"{where}.{error.where}", error.reason)
        except (ValueError, TypeError) as error:
            self.fail(f"{where}.date_stencil", f"invalid date stencil: {error}")
        return None


def _supplied_parameters(raw: object) -> dict[str, set[str]]:
    """Workflow name → the parameter names some sensor entry supplies to it (no checks)."""
    supplied: dict[str, set[str]] = {}
    entries = raw.get("workflows") if isinstance(raw, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("workflow_name"), str):
            parameters = entry.get("parameters")
            names = supplied.setdefault(entry["workflow_name"], set())
            if isinstance(parameters, dict):
                names.update(k for k in parameters if isinstance(k, str))
    return supplied


def build_document(raw: object, where: str, errors: list[SpecError]) -> WorkflowFile | None:
    """The WorkflowFile for a parsed document; every problem is appended to ``errors``."""
    return _Builder(errors).document(raw, where)
