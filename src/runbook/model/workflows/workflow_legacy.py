"""AutoFlow's earlier ``workflows.yml``: a list of ``kind: date_triggered_notebooks`` workflows.

Before ``available_dates_sensor`` existed, AutoFlow (``autoflow/workflows.py`` in Flowminder's
FlowKit) read a YAML list whose every item has exactly ``name``, ``kind``, ``schedule``,
``notebooks`` and ``parameters``::

    - name: flows
      kind: date_triggered_notebooks
      schedule: "0 0 * * *"
      notebooks:
        - {label: run_flows, filename: run_flows.ipynb, parameters: {date_ranges: date_ranges}}
        - {label: report, filename: report.ipynb, parameters: {flows: run_flows}, output: true}
      parameters:
        - {cdr_types: [calls], earliest_date: 2016-01-04, date_stencil: [-1, 0], region: north}

Each entry of ``parameters`` is one set of values the workflow runs with, for every new date
of FlowAPI's available dates on ``schedule``: its date filters (``cdr_types``,
``earliest_date``, ``date_stencil``) and a value for every other name the notebooks refer
to. It is read here as that workflow with one ``available_dates`` sensor trigger per set,
checked as AutoFlow checked it: the expected keys, unique names and labels, labels that are
not reserved, notebooks and templates that exist, and sets with every parameter and no other.
``scheduled_notebooks``, which AutoFlow never implemented, is refused with the native form to
write instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Final, cast

from runbook.model.spec_builder import describe
from runbook.model.workflows.workflow import (
    OutputSpec,
    TaskSpec,
    Trigger,
    WorkflowFile,
    WorkflowSpec,
    cron_problem,
)
from runbook.model.workflows.workflow_checks import RESERVED_LABELS, Accepts, quoted

if TYPE_CHECKING:
    from runbook.model.workflows.workflow_validate import _Builder

KIND: Final = "date_triggered_notebooks"
_KEYS: Final = ("name", "kind", "schedule", "notebooks", "parameters")
_TASK_KEYS: Final = ("label", "filename", "parameters", "output")
#: The parameters of a set that choose dates rather than reach the notebooks.
DATE_FILTERS: Final = ("cdr_types", "earliest_date", "date_stencil")
_NATIVE_HINT: Final = (
    "AutoFlow never implemented it: write the workflow in the native form, "
    "`workflows: [{name, triggers: [{schedule: CRON}], notebooks: {LABEL: {filename, "
    "parameters}}}]` (see README, Workflows)"
)


def legacy_document(builder: _Builder, raw: list[Any]) -> WorkflowFile:
    """The workflows of AutoFlow's list form; every problem is recorded on ``builder``."""
    workflows: dict[str, WorkflowSpec] = {}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        spec = _workflow(builder, item, f"[{index}]")
        if spec is None:
            continue
        if spec.name in first_seen:
            builder.fail(
                f"[{index}].name",
                f"duplicate workflow name {spec.name!r} (also [{first_seen[spec.name]}])",
            )
            continue
        first_seen[spec.name] = index
        workflows[spec.name] = spec
    return WorkflowFile(workflows=workflows)


def _workflow(builder: _Builder, raw: object, path: str) -> WorkflowSpec | None:
    from runbook.model.workflows.workflow_validate import workflow_name_problem

    item = builder.mapping(raw, path, _KEYS)
    if item is None:
        return None
    if missing := [key for key in _KEYS if key not in item]:
        builder.fail(path, f"missing {quoted(missing)}: each workflow has {', '.join(_KEYS)}")
    name, kind, schedule = item.get("name"), item.get("kind"), item.get("schedule")
    ok = True
    if "name" in item and (problem := workflow_name_problem(name)):
        builder.fail(f"{path}.name", problem)
        ok = False
    if kind == "scheduled_notebooks":
        builder.fail(f"{path}.kind", f"scheduled_notebooks is not supported: {_NATIVE_HINT}")
        ok = False
    elif "kind" in item and kind != KIND:
        builder.fail(
            f"{path}.kind", f"expected {KIND} (or scheduled_notebooks), not {describe(kind)}"
        )
        ok = False
    if "schedule" in item:
        problem = cron_problem(schedule) if isinstance(schedule, str) else "expected a cron string"
        if problem:
            builder.fail(f"{path}.schedule", problem)
            ok = False
    tasks = _tasks(builder, item["notebooks"], f"{path}.notebooks") if "notebooks" in item else {}
    additional = sorted(
        {
            reference
            for task in tasks.values()
            for reference in task.parameters.values()
            if reference not in tasks and reference not in RESERVED_LABELS
        }
    )
    triggers = (
        _parameter_sets(
            builder, item["parameters"], f"{path}.parameters", schedule, additional, name
        )
        if "parameters" in item
        else []
    )
    if not ok or not isinstance(name, str) or any(key not in item for key in _KEYS):
        return None
    return WorkflowSpec(name, tasks, dict.fromkeys(additional), triggers, tuple(additional))


def _tasks(builder: _Builder, raw: object, where: str) -> dict[str, TaskSpec]:
    if not isinstance(raw, list) or not raw:
        builder.fail(where, f"expected a non-empty list of notebook tasks, not {describe(raw)}")
        return {}
    tasks: dict[str, TaskSpec] = {}
    for index, entry in enumerate(raw):
        path = f"{where}[{index}]"
        item = builder.mapping(entry, path, _TASK_KEYS)
        if item is None:
            continue
        if missing := [key for key in ("label", "filename", "parameters") if key not in item]:
            builder.fail(
                path, f"missing {quoted(missing)}: each task has label, filename, parameters"
            )
            continue
        label = item["label"]
        if not builder.label(label, f"{path}.label"):
            continue
        if label in DATE_FILTERS:
            builder.fail(f"{path}.label", f"{label!r} cannot label a task: it is a date filter")
            continue
        if label in tasks:
            builder.fail(f"{path}.label", f"duplicate notebook label {label!r}")
            continue
        if not isinstance(item["parameters"], dict):
            builder.fail(
                f"{path}.parameters", f"expected a mapping, not {describe(item['parameters'])}"
            )
        fields = {key: item[key] for key in ("filename", "parameters")}
        task = builder.task(label, fields, path, ("filename", "parameters"))
        if task is not None:
            tasks[label] = dataclasses.replace(task, output=_output(builder, item, path))
    labels = set(tasks)
    for label, task in tasks.items():
        for parameter, reference in task.parameters.items():
            if reference == label:
                builder.fail(f"{where}.{label}.parameters.{parameter}", "refers to its own task")
            elif reference in DATE_FILTERS and reference not in labels:
                builder.fail(
                    f"{where}.{label}.parameters.{parameter}",
                    f"{reference!r} chooses dates and is not passed to notebooks",
                )
    builder.cycles(tasks, where)
    return tasks


def _output(builder: _Builder, item: dict[str, Any], path: str) -> OutputSpec | None:
    """AutoFlow's ``output``: ``{template}`` or true for a PDF, false or absent for none."""
    raw = item.get("output")
    if isinstance(raw, dict):
        output = builder.mapping(raw, f"{path}.output", ("template",))
        template = output.get("template") if output else None
        return builder.template("pdf", template, f"{path}.output.template")
    return OutputSpec("pdf") if raw else None


def _parameter_sets(
    builder: _Builder,
    raw: object,
    where: str,
    schedule: object,
    additional: list[str],
    name: object,
) -> list[Trigger]:
    if not isinstance(raw, list):
        builder.fail(where, f"expected a list of parameter mappings, not {describe(raw)}")
        return []
    takes = Accepts(frozenset(additional), frozenset(additional))
    triggers: list[Trigger] = []
    for index, entry in enumerate(raw):
        path = f"{where}[{index}]"
        if not isinstance(entry, dict):
            builder.fail(path, f"expected a mapping of parameter values, not {describe(entry)}")
            continue
        values = builder.names_mapping(entry, path)
        given = {k: v for k, v in values.items() if k not in DATE_FILTERS}
        builder.sensor_parameters(given, takes, str(name), path)
        earliest = builder.earliest(values.get("earliest_date"), f"{path}.earliest_date")
        builder.stencil(values.get("date_stencil"), path)
        config = {
            "schedule": schedule,
            "cdr_types": builder.cdr_types(values.get("cdr_types"), f"{path}.cdr_types"),
            "earliest_date": earliest.isoformat() if earliest else None,
            "date_stencil": _iso(values.get("date_stencil")),
            "parameters": given,
        }
        cron = cast("str | None", schedule) if isinstance(schedule, str) else None
        triggers.append(Trigger("sensor", cron=cron, sensor_type="available_dates", config=config))
    return triggers


def _iso(value: object) -> object:
    """Dates written out as ISO text, so the trigger stays plain JSON."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(item) for item in value]
    return value
