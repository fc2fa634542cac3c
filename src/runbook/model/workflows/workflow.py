"""Workflow definitions: DAGs of notebook tasks, read from ``workflows/*.yml``.

Three shapes are accepted:

* AutoFlow's ``workflows.yml`` as is: ``workflows: [{name, notebooks: {KEY: {filename,
  parameters, output}}}]`` plus ``available_dates_sensor: {schedule, cdr_types, workflows:
  [{workflow_name, parameters, earliest_date, date_stencil}]}``;
* the native form, where a workflow also declares ``parameters`` (a list of names or a
  mapping name → default), ``triggers`` (``{schedule, timezone}``, ``{sensor, config}`` or
  ``manual``) and each task may set ``retries`` and ``retry_delay``;
* AutoFlow's earlier form, a list of ``kind: date_triggered_notebooks`` workflows (see
  :mod:`runbook.model.workflows.workflow_legacy`).

A task's ``parameters`` map notebook parameter names to *references*: a workflow parameter,
another task's key (the value is that executed notebook's path, and the reference orders
execution), an automatic parameter (:data:`AUTOMATIC_PARAMETERS`) or a setting
(:data:`SETTING_NAMES`). Validation collects every error with its path in the document.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runbook.errors import SpecError
from runbook.model.spec_builder import describe
from runbook.model.yaml_files import compose_yaml, parse_yaml

AUTOMATIC_PARAMETERS: Final = ("reference_date", "date_ranges")
SETTING_NAMES: Final = ("flowapi_url",)
OUTPUT_FORMATS: Final = ("pdf", "html")
CDR_TYPES: Final = ("calls", "sms", "mds", "topups")
SENSOR_TYPES: Final = ("available_dates", "http", "glob", "command", "sql")

OutputFormat = Literal["pdf", "html"]
TriggerKind = Literal["schedule", "sensor", "manual"]


@dataclass(frozen=True)
class OutputSpec:
    """How an executed notebook is converted after it ran."""

    format: OutputFormat = "pdf"
    template: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """One notebook task: ``parameters`` maps notebook parameter → reference; ``timeout``
    is the seconds each cell may run (as ``runbook run --timeout``), None for no limit."""

    key: str
    filename: str
    parameters: dict[str, str] = field(default_factory=dict)
    output: OutputSpec | None = None
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None


@dataclass(frozen=True)
class Trigger:
    """What starts a workflow: a cron schedule, a sensor, or a person."""

    kind: TriggerKind
    cron: str | None = None
    timezone: str = "UTC"
    sensor_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowSpec:
    """A named DAG of notebook tasks.

    ``parameters`` holds the declared workflow parameters and their defaults; ``required``
    names those declared without a default.
    """

    name: str
    tasks: dict[str, TaskSpec]
    parameters: dict[str, Any] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    required: tuple[str, ...] = ()

    def dependencies(self, key: str) -> set[str]:
        """The keys of the tasks whose executed notebooks task ``key`` takes as parameters."""
        task = self.tasks[key]
        return {ref for ref in task.parameters.values() if ref in self.tasks and ref != key}

    def order(self) -> list[list[str]]:
        """Topological layers: every task's dependencies are in earlier layers.

        Tasks in one layer are independent of each other and may run in parallel; within a
        layer tasks keep their declaration order. Raises SpecError on a dependency cycle.
        """
        pending = {key: self.dependencies(key) for key in self.tasks}
        done: set[str] = set()
        layers: list[list[str]] = []
        while pending:
            layer = [key for key, needs in pending.items() if needs <= done]
            if not layer:
                stuck = ", ".join(sorted(pending))
                raise SpecError(f"{self.name}.notebooks", f"dependency cycle among {stuck}")
            layers.append(layer)
            done.update(layer)
            for key in layer:
                del pending[key]
        return layers


@dataclass(frozen=True)
class SensorWorkflow:
    """One workflow the available-dates sensor triggers, with its parameter values.

    ``date_stencil`` is a ``runbook.model.stencil.DateStencil`` (or None when not given).
    """

    workflow_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    earliest_date: dt.date | None = None
    date_stencil: Any = None


@dataclass(frozen=True)
class AvailableDatesSensor:
    """AutoFlow's sensor: runs workflows for each new date of available CDR data."""

    schedule: str | None
    cdr_types: list[str] | None
    workflows: list[SensorWorkflow]


@dataclass(frozen=True)
class WorkflowFile:
    """Everything one workflows file defines."""

    workflows: dict[str, WorkflowSpec]
    sensor: AvailableDatesSensor | None = None


_NUMBER = re.compile(r"^[0-9]{1,2}$")
_CRON_MACROS: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS: Final = (
    *("jan", "feb", "mar", "apr", "may", "jun"),
    *("jul", "aug", "sep", "oct", "nov", "dec"),
)
_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: Final = (
    ("minute", 0, 59, (), 0),
    ("hour", 0, 23, (), 0),
    ("day of month", 1, 31, (), 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day of week", 0, 7, _DAYS, 0),
)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a 5-field cron expression (or an @-macro), else None."""
    if expression.strip() in _CRON_MACROS:
        return None
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"not a cron expression: expected 5 fields, got {len(fields)}"
    for text, (name, low, high, names, first) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            base, slash, step = item.partition("/")
            if slash and (not _NUMBER.fullmatch(step) or int(step) == 0):
                return f"not a cron expression: bad step in {name} field {item!r}"
            if base == "*":
                continue
            start, dash, end = base.partition("-")
            values = [
                _cron_value(part, names, first) for part in ([start, end] if dash else [start])
            ]
            if any(value is None or not low <= value <= high for value in values):
                return f"not a cron expression: {name} field {item!r} is not within {low}-{high}"
            if dash and cast(int, values[0]) > cast(int, values[1]):
                return f"not a cron expression: {name} range {item!r} runs backwards"
    return None


def _cron_value(text: str, names: tuple[str, ...], first: int) -> int | None:
    if _NUMBER.fullmatch(text):
        return int(text)
    lowered = text.lower()
    return names.index(lowered) + first if lowered in names else None


def timezone_problem(name: object) -> str | None:
    """Why ``name`` is not an IANA time zone known to zoneinfo, else None."""
    if not isinstance(name, str) or not name:
        return f"expected a time zone name such as 'Europe/Paris', not {describe(name)}"
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return f"unknown time zone {name!r}"
    return None


#: Why a file a workflows file names (relative to its folder) cannot be used, or None.
FileCheck = Callable[[str], "str | None"]


def _build(
    text: str, where: str, files: FileCheck | None
) -> tuple[WorkflowFile | None, list[SpecError]]:
    from runbook.model.workflows.workflow_validate import build_document

    document, error = parse_yaml(text, where)
    if error is not None:
        return None, [error]
    errors: list[SpecError] = []
    result = build_document(document, where, errors, files)
    return result, errors


def validate_workflows(
    text: str, where: str = "workflows.yml", files: FileCheck | None = None
) -> list[SpecError]:
    """Every error of a workflows file, in document order (empty when it is valid).

    Each error's ``where`` is its path inside the document (e.g.
    ``workflows[0].notebooks.report.parameters.x``); errors about the document as a whole
    (invalid YAML, not a mapping) are placed at ``where`` itself, with ``:line:column`` for
    syntax errors. ``files`` answers for the notebooks and templates it names (see
    :mod:`runbook.model.workflows.workflow_checks`); without it they are not looked for. Never
    raises anything else.
    """
    return _build(text, where, files)[1]


def load_workflows(
    text: str, where: str = "workflows.yml", files: FileCheck | None = None
) -> WorkflowFile:
    """The workflows defined by ``text``; raises the first SpecError (prefixed by ``where``)."""
    result, errors = _build(text, where, files)
    if errors:
        first = errors[0]
        if first.where == where or first.where.startswith(f"{where}:"):
            raise first
        raise SpecError(f"{where}: {first.where}", first.reason)
    assert result is not None  # noqa: S101 - no errors means the document was built
    return result


def declared_names(text: str) -> list[str]:
    """The workflow names an invalid workflows file declares, as far as it composes.

    Lets ``workflow run NAME`` say "NAME is in an invalid file" rather than "no such
    workflow". Read from the node graph, never built: the file may be an alias bomb.
    """
    root = compose_yaml(text)
    listed = root if isinstance(root, SequenceNode) else _value_of(root, "workflows")
    items = listed.value if isinstance(listed, SequenceNode) else []
    names = (_value_of(item, "name") for item in items)
    return [name.value for name in names if isinstance(name, ScalarNode)]


def _value_of(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)
