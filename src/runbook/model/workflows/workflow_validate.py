"""Checking a parsed workflows document and building its dataclasses, collecting every error.

Used by :mod:`runbook.model.workflows.workflow`: every problem becomes a SpecError at its path
in the document, and building goes on so that one pass reports them all. The checks shared with
AutoFlow's earlier list form (:mod:`runbook.model.workflows.workflow_legacy`) are in
:mod:`runbook.model.workflows.workflow_checks`, those of triggers and sensors in
:mod:`runbook.model.workflows.workflow_triggers`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from runbook.errors import SpecError
from runbook.model.spec_builder import describe
from runbook.model.workflows.workflow import (
    AUTOMATIC_PARAMETERS,
    SETTING_NAMES,
    FileCheck,
    TaskSpec,
    WorkflowFile,
    WorkflowSpec,
)
from runbook.model.workflows.workflow_checks import Accepts, accepts
from runbook.model.workflows.workflow_triggers import TriggerChecks, sensor_workflow_names

_TOP_KEYS: Final = ("workflows", "available_dates_sensor")
_WORKFLOW_KEYS: Final = ("name", "notebooks", "parameters", "triggers")
_TASK_KEYS: Final = ("filename", "parameters", "output", "retries", "retry_delay", "timeout")
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def workflow_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a workflow, or None."""
    if not isinstance(name, str) or not _WORKFLOW_NAME.fullmatch(name):
        return f"expected a name of letters, digits, _ . -, not {describe(name)}"
    return None


class _Builder(TriggerChecks):
    def document(self, raw: object, where: str) -> WorkflowFile | None:
        if isinstance(raw, list) and any(isinstance(item, dict) for item in raw):
            # AutoFlow's earlier form: a list of workflows.
            from runbook.model.workflows.workflow_legacy import legacy_document

            return legacy_document(self, raw)
        if isinstance(raw, list):
            self.fail(
                where,
                "expected a mapping with a 'workflows' list (or AutoFlow's earlier list of "
                "workflow mappings), not a list of "
                + (", ".join(sorted({describe(item).split()[0] for item in raw})) or "nothing"),
            )
            return None
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
        by_sensor = sensor_workflow_names(raw.get("available_dates_sensor"))
        workflows: dict[str, WorkflowSpec] = {}
        needed: dict[str, Accepts] = {}
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
            built = self.workflow(item, path, name in by_sensor)
            if built is not None and not duplicate:
                workflows[built[0].name] = built[0]
                needed[built[0].name] = built[1]
        sensor = None
        if "available_dates_sensor" in raw:
            sensor = self.sensor(raw["available_dates_sensor"], set(first_seen), workflows, needed)
        return WorkflowFile(workflows=workflows, sensor=sensor)

    def workflow(
        self, raw: object, path: str, by_sensor: bool
    ) -> tuple[WorkflowSpec, Accepts] | None:
        item = self.mapping(raw, path, _WORKFLOW_KEYS)
        if item is None:
            return None
        name = item.get("name")
        if "name" not in item:
            self.fail(f"{path}.name", "missing: every workflow needs a unique name")
        elif problem := workflow_name_problem(name):
            self.fail(f"{path}.name", problem)
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
        known = set(declared) | set(AUTOMATIC_PARAMETERS) | set(SETTING_NAMES)
        tasks: dict[str, TaskSpec] = {}
        for key, task_raw in notebooks.items():
            where = f"{path}.notebooks.{key}"
            if not self.label(key, where):
                continue
            task = self.task(key, task_raw, where, _TASK_KEYS)
            if task is None:
                continue
            tasks[key] = task
            for parameter, reference in task.parameters.items():
                if reference == key:
                    self.fail(f"{where}.parameters.{parameter}", "refers to its own task")
                elif reference not in keys and reference not in known and not by_sensor:
                    self.fail(f"{where}.parameters.{parameter}", f"unknown reference {reference!r}")
        self.cycles(tasks, f"{path}.notebooks")
        # As in AutoFlow, a name the tasks refer to is a parameter the sensor must pass.
        referenced = {ref for task in tasks.values() for ref in task.parameters.values()}
        takes = accepts(
            tasks, declared, required, set(declared) | (referenced if by_sensor else set())
        )
        triggers = self.triggers(item.get("triggers"), f"{path}.triggers")
        if not isinstance(name, str):
            return None
        self.native_sensor_parameters(item.get("triggers"), takes, name, f"{path}.triggers")
        return WorkflowSpec(name, tasks, declared, triggers, tuple(required)), takes

    def native_sensor_parameters(self, raw: object, takes: Accepts, name: str, where: str) -> None:
        """The parameters each native sensor trigger passes: as the workflow takes them."""
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            config = item.get("config") if isinstance(item, dict) and "sensor" in item else None
            given = config.get("parameters") if isinstance(config, dict) else None
            if isinstance(given, dict) or (isinstance(config, dict) and takes.required):
                checked = {k: v for k, v in (given or {}).items() if isinstance(k, str)}
                path = f"{where}[{index}].config.parameters"
                self.sensor_parameters(checked, takes, name, path)

    def declared_parameters(self, raw: object, where: str) -> tuple[dict[str, Any], list[str]]:
        if raw is None:
            return {}, []
        if isinstance(raw, list):
            names = [n for i, n in enumerate(raw) if self.name(n, f"{where}[{i}]")]
            return dict.fromkeys(names), names
        return self.names_mapping(raw, where), []


def build_document(
    raw: object, where: str, errors: list[SpecError], files: FileCheck | None = None
) -> WorkflowFile | None:
    """The WorkflowFile for a parsed document; every problem is appended to ``errors``.

    ``files`` says why a file the document names (relative to its folder) cannot be used;
    without it, files are not looked for.
    """
    return _Builder(errors, files).document(raw, where)
