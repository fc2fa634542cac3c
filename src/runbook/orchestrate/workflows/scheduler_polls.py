"""Sensor polls built from workflow triggers: which date sensors the scheduler polls.

A file's AutoFlow ``available_dates_sensor`` becomes one poll for the whole file; each
native ``{sensor, config}`` trigger becomes its own poll, its date source chosen by the
sensor kind (``available_dates``, ``http``, ``glob``, ``command`` or ``sql``) and its
config checked here. A trigger whose config is wrong is logged and not polled.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook.egress import egress_policy
from runbook.errors import ConfigError, SpecError
from runbook.model.repository import Repository
from runbook.model.settings_sections import WorkflowSettings
from runbook.model.stencil import parse_stencil
from runbook.model.workflows.workflow import AvailableDatesSensor, SensorWorkflow, Trigger
from runbook.orchestrate.workflows.sensors import (
    command_dates,
    flowapi_available_dates,
    glob_dates,
    http_json_dates,
    sql_dates,
)
from runbook.orchestrate.workflows.workflow_files import DefinedWorkflow
from runbook.secrets import find_secret

#: Where the lines go (the scheduler's log).
Log = Callable[[str], None]
#: Reads the set of available dates of one sensor.
DateSource = Callable[[], set[dt.date]]


@dataclass(frozen=True)
class SensorPoll:
    """One date sensor: its state key, poll schedule, date source and workflows."""

    key: str
    schedule: str | None
    timezone: str
    source: DateSource
    sensor: AvailableDatesSensor
    workflows: dict[str, DefinedWorkflow]


def sensor_polls(
    defined: list[DefinedWorkflow], repository: Repository, settings: WorkflowSettings, log: Log
) -> list[SensorPoll]:
    """The polls of the ``defined`` workflows: one per file sensor, one per native trigger."""
    polls: list[SensorPoll] = []
    by_file: dict[str, dict[str, DefinedWorkflow]] = {}
    for workflow in defined:
        by_file.setdefault(workflow.source, {})[workflow.spec.name] = workflow
    for source, workflows in by_file.items():
        sensor = next(iter(workflows.values())).defined_in.sensor
        if sensor is not None:
            polls.append(_flowapi_poll(repository, settings, source, sensor, workflows))
    for workflow in defined:
        file_sensor = workflow.defined_in.sensor
        from_file = {e.workflow_name for e in file_sensor.workflows} if file_sensor else set()
        for index, trigger in enumerate(workflow.spec.triggers):
            # The file's available_dates_sensor shows on each workflow it names as an
            # available_dates trigger; it is polled once, for the whole file, above.
            derived = trigger.sensor_type == "available_dates" and workflow.spec.name in from_file
            if trigger.kind == "sensor" and not derived:
                try:
                    polls.append(_native_poll(repository, settings, workflow, index, trigger))
                except (ConfigError, SpecError) as error:
                    log(f"{workflow.spec.name}: sensor {index} not polled: {error}")
    return polls


def _flowapi_poll(
    repository: Repository,
    settings: WorkflowSettings,
    source: str,
    sensor: AvailableDatesSensor,
    workflows: dict[str, DefinedWorkflow],
) -> SensorPoll:
    def read() -> set[dt.date]:
        url = settings.flowapi_url
        if not url:
            raise ConfigError("FLOWAPI_URL", "not set: the available-dates sensor needs it")
        token = find_secret("FLOWAPI_TOKEN") or ""
        policy = egress_policy(repository.config.egress())
        return flowapi_available_dates(url, token, sensor.cdr_types, policy)

    return SensorPoll(f"sensor|file|{source}", sensor.schedule, "UTC", read, sensor, workflows)


def _native_poll(
    repository: Repository,
    settings: WorkflowSettings,
    workflow: DefinedWorkflow,
    index: int,
    trigger: Trigger,
) -> SensorPoll:
    config = dict(trigger.config)
    where = f"{workflow.source}: {workflow.spec.name}.triggers[{index}].config"
    stencil = config.get("date_stencil")
    earliest = config.get("earliest_date")
    entry = SensorWorkflow(
        workflow_name=workflow.spec.name,
        parameters=dict(config.get("parameters") or {}),
        earliest_date=_date(earliest, f"{where}.earliest_date") if earliest else None,
        date_stencil=parse_stencil(stencil, f"{where}.date_stencil") if stencil else None,
    )
    cdr_types = config.get("cdr_types")
    sensor = AvailableDatesSensor(config.get("schedule"), cdr_types, [entry])
    kind = trigger.sensor_type or ""
    source = _native_source(repository, settings, kind, config, sensor, where)
    key = f"sensor|{workflow.spec.name}|{index}"
    schedule = config.get("schedule")
    if schedule is not None and not isinstance(schedule, str):
        raise ConfigError(f"{where}.schedule", "expected a cron string")
    return SensorPoll(
        key,
        schedule,
        str(config.get("timezone", "UTC")),
        source,
        sensor,
        {workflow.spec.name: workflow},
    )


def _native_source(
    repository: Repository,
    settings: WorkflowSettings,
    kind: str,
    config: dict[str, Any],
    sensor: AvailableDatesSensor,
    where: str,
) -> DateSource:
    policy = egress_policy(repository.config.egress())
    if kind == "available_dates":
        return lambda: flowapi_available_dates(
            str(config.get("url") or settings.flowapi_url),
            find_secret("FLOWAPI_TOKEN") or "",
            sensor.cdr_types,
            policy,
        )
    if kind == "http":
        url = _text(config, "url", where)
        return lambda: http_json_dates(url, policy, field=config.get("field"))
    if kind == "glob":
        pattern = _text(config, "pattern", where)
        regex = str(config.get("date_regex", r"(\d{4}-\d{2}-\d{2})"))
        return lambda: glob_dates(repository.root, pattern, regex)
    if kind == "command":
        command = config.get("command")
        argv = shlex.split(command) if isinstance(command, str) else command
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"{where}.command", "expected a command line or a list")
        return lambda: command_dates(argv)
    if kind == "sql":
        url, query = _text(config, "url", where), _text(config, "query", where)
        return lambda: sql_dates(url, query)
    raise ConfigError(where, f"unknown sensor {kind!r}")


def _text(config: dict[str, Any], key: str, where: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}", "missing: expected text")
    return value


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(where, f"{value!r} is not a date (YYYY-MM-DD)") from None
