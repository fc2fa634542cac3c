from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import SpecError
from runbook.model.workflows.workflow import (
    OutputSpec,
    Trigger,
    WorkflowSpec,
    cron_problem,
    load_workflows,
    validate_workflows,
)

AUTOFLOW_EXAMPLE = """\
workflows:
  - name: flows
    notebooks:
      run_flows:
        filename: run_flows.ipynb
        parameters:
          reference_date: reference_date
          date_ranges: date_ranges
          flowapi_url: flowapi_url
      flows_report:
        filename: flows_report.ipynb
        parameters:
          flows_notebook: run_flows
          reference_date: reference_date
          flowapi_url: flowapi_url
        output:
          format: pdf

available_dates_sensor:
  schedule: "0 0 * * *"
  cdr_types:
    - calls
    - sms
  workflows:
    - workflow_name: flows
      parameters: {}
      earliest_date: 2016-01-01
      date_stencil: [[2016-01-01, 2016-01-02], -1, 0]
"""

BASE: dict[str, Any] = yaml.safe_load(AUTOFLOW_EXAMPLE)


def _errors(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.where, e.reason) for e in validate_workflows(yaml.safe_dump(document))]


def _mutated(change: Callable[[dict[str, Any]], None]) -> list[tuple[str, str]]:
    document = copy.deepcopy(BASE)
    change(document)
    return _errors(document)


def _report(document: dict[str, Any]) -> dict[str, Any]:
    task: dict[str, Any] = document["workflows"][0]["notebooks"]["flows_report"]
    return task


def test_autoflow_example_is_accepted_as_is() -> None:
    assert validate_workflows(AUTOFLOW_EXAMPLE) == []
    loaded = load_workflows(AUTOFLOW_EXAMPLE)
    flows = loaded.workflows["flows"]
    assert flows.order() == [["run_flows"], ["flows_report"]]
    assert flows.dependencies("flows_report") == {"run_flows"}
    assert flows.dependencies("run_flows") == set()
    report = flows.tasks["flows_report"]
    assert report.parameters["flows_notebook"] == "run_flows"
    assert report.output == OutputSpec("pdf", None)
    assert loaded.sensor is not None
    assert loaded.sensor.schedule == "0 0 * * *"
    assert loaded.sensor.cdr_types == ["calls", "sms"]
    entry = loaded.sensor.workflows[0]
    assert entry.workflow_name == "flows" and entry.parameters == {}
    assert entry.earliest_date == dt.date(2016, 1, 1)
    assert [t.sensor_type for t in flows.triggers] == ["available_dates"]


def test_order_layers_independent_tasks_together() -> None:
    text = """
workflows:
  - name: w
    notebooks:
      a: {filename: a.ipynb}
      b: {filename: b.ipynb, parameters: {x: a}}
      c: {filename: c.ipynb, parameters: {x: a}}
      d: {filename: d.ipynb, parameters: {x: b, y: c}}
"""
    assert load_workflows(text).workflows["w"].order() == [["a"], ["b", "c"], ["d"]]


def test_native_form_with_parameters_triggers_and_retries() -> None:
    text = """
workflows:
  - name: nightly
    parameters: {region: eu, limit: null}
    triggers:
      - {schedule: "30 2 * * mon-fri", timezone: Europe/Paris}
      - {sensor: glob, config: {pattern: "incoming/*.csv"}}
      - manual
    notebooks:
      fetch: {filename: nb/fetch.ipynb, parameters: {region: region}, retries: 3, retry_delay: 1.5}
      report: {filename: report.ipynb, parameters: {src: fetch}, output: {format: html}}
"""
    spec = load_workflows(text).workflows["nightly"]
    assert spec.parameters == {"region": "eu", "limit": None}
    assert spec.triggers == [
        Trigger("schedule", cron="30 2 * * mon-fri", timezone="Europe/Paris"),
        Trigger("sensor", sensor_type="glob", config={"pattern": "incoming/*.csv"}),
        Trigger("manual"),
    ]
    assert spec.tasks["fetch"].retries == 3 and spec.tasks["fetch"].retry_delay == 1.5
    assert spec.tasks["report"].output == OutputSpec("html", None)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


W0 = ["workflows", 0]
REPORT = [*W0, "notebooks", "flows_report"]
ENTRY = ["available_dates_sensor", "workflows", 0]


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (_set(["extra"], 1), "extra", "unknown key"),
        (_set([*W0, "colour"], "red"), "workflows[0].colour", "unknown key"),
        (_set([*REPORT, "bogus"], 1), "workflows[0].notebooks.flows_report.bogus", "unknown key"),
        (_set([*ENTRY, "when"], 1), "available_dates_sensor.workflows[0].when", "unknown key"),
        (_delete([*W0, "name"]), "workflows[0].name", "missing"),
        (_delete([*W0, "notebooks"]), "workflows[0].notebooks", "missing"),
        (_delete([*REPORT, "filename"]), "workflows[0].notebooks.flows_report.filename", "missing"),
        (
            _set([*REPORT, "filename"], "/etc/report.ipynb"),
            "workflows[0].notebooks.flows_report.filename",
            "absolute",
        ),
        (
            _set([*REPORT, "filename"], "../secrets/report.ipynb"),
            "workflows[0].notebooks.flows_report.filename",
            "'..'",
        ),
        (  # as in AutoFlow, a name the tasks refer to is one the sensor must pass
            _set([*REPORT, "parameters", "x"], "foo"),
            "available_dates_sensor.workflows[0].parameters",
            "missing 'foo', needed by workflow 'flows'",
        ),
        (
            _set([*REPORT, "parameters", "me"], "flows_report"),
            "workflows[0].notebooks.flows_report.parameters.me",
            "refers to its own task",
        ),
        (
            _set([*REPORT, "output", "format"], "docx"),
            "workflows[0].notebooks.flows_report.output.format",
            "expected pdf or html",
        ),
        (
            _set([*REPORT, "retries"], -1),
            "workflows[0].notebooks.flows_report.retries",
            "expected an integer",
        ),
        (
            _set([*REPORT, "retry_delay"], -0.5),
            "workflows[0].notebooks.flows_report.retry_delay",
            "expected seconds",
        ),
        (
            _set([*ENTRY, "workflow_name"], "nope"),
            "available_dates_sensor.workflows[0].workflow_name",
            "no workflow named 'nope'",
        ),
        (
            _set(["available_dates_sensor", "cdr_types"], ["calls", "faxes"]),
            "available_dates_sensor.cdr_types[1]",
            "unknown CDR type 'faxes'",
        ),
        (
            _set(["available_dates_sensor", "schedule"], "0 0 * *"),
            "available_dates_sensor.schedule",
            "expected 5 fields",
        ),
        (
            _set(["available_dates_sensor", "schedule"], "61 0 * * *"),
            "available_dates_sensor.schedule",
            "minute",
        ),
        (
            _set([*ENTRY, "earliest_date"], "last tuesday"),
            "available_dates_sensor.workflows[0].earliest_date",
            "not a date",
        ),
        (
            _set([*W0, "triggers"], [{"schedule": "0 * * * *", "timezone": "Mars/Olympus"}]),
            "workflows[0].triggers[0].timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            _set([*W0, "triggers"], [{"sensor": "telepathy"}]),
            "workflows[0].triggers[0].sensor",
            "unknown sensor",
        ),
        (
            _set([*W0, "triggers"], ["sometimes"]),
            "workflows[0].triggers[0]",
            "expected `manual`",
        ),
        (
            _set([*REPORT, "parameters", "class"], "run_flows"),
            "workflows[0].notebooks.flows_report.parameters.class",
            "not a valid name",
        ),
    ],
)
def test_each_rule_reports_its_path(
    change: Callable[[dict[str, Any]], None], where: str, reason: str
) -> None:
    errors = _mutated(change)
    assert errors[0][0] == where, errors
    assert reason in errors[0][1]
    # Without a name the sensor entry names no workflow either; every other rule is alone.
    assert len(errors) == 1 or where == "workflows[0].name", errors


def test_duplicate_workflow_names() -> None:
    errors = _mutated(lambda d: d["workflows"].append(copy.deepcopy(d["workflows"][0])))
    assert errors == [("workflows[1].name", "duplicate workflow name 'flows' (also workflows[0])")]


def test_sensor_must_supply_the_workflow_parameters() -> None:
    def needs_region(document: dict[str, Any]) -> None:
        document["workflows"][0]["parameters"] = ["region"]
        _report(document)["parameters"]["region"] = "region"

    errors = _mutated(needs_region)
    assert errors == [
        (
            "available_dates_sensor.workflows[0].parameters",
            "missing 'region', needed by workflow 'flows'",
        )
    ]

    def supplies_region(document: dict[str, Any]) -> None:
        needs_region(document)
        document["available_dates_sensor"]["workflows"][0]["parameters"] = {"region": "eu"}

    assert _mutated(supplies_region) == []


def test_sensor_supplied_parameters_are_workflow_parameters() -> None:
    def uses_region(document: dict[str, Any]) -> None:
        _report(document)["parameters"]["region"] = "region"
        document["available_dates_sensor"]["workflows"][0]["parameters"] = {"region": "eu"}

    assert _mutated(uses_region) == []

    def second_entry_forgets_it(document: dict[str, Any]) -> None:
        uses_region(document)
        document["available_dates_sensor"]["workflows"].append({"workflow_name": "flows"})

    assert _mutated(second_entry_forgets_it) == [
        (
            "available_dates_sensor.workflows[1].parameters",
            "missing 'region', needed by workflow 'flows'",
        )
    ]


def test_cycles_are_named() -> None:
    text = """
workflows:
  - name: w
    notebooks:
      a: {filename: a.ipynb, parameters: {x: b}}
      b: {filename: b.ipynb, parameters: {x: a}}
      c: {filename: c.ipynb, parameters: {x: d}}
      d: {filename: d.ipynb, parameters: {x: e}}
      e: {filename: e.ipynb, parameters: {x: c}}
"""
    assert [str(e) for e in validate_workflows(text)] == [
        "workflows[0].notebooks: dependency cycle: a -> b -> a",
        "workflows[0].notebooks: dependency cycle: c -> d -> e -> c",
    ]
    with pytest.raises(
        SpecError, match=r"workflows.yml: workflows\[0\]\.notebooks: dependency cycle"
    ):
        load_workflows(text)
    broken = text.replace("filename: b.ipynb", "filename: ../b.ipynb")
    assert [e.where for e in validate_workflows(broken)][:2] == [
        "workflows[0].notebooks.b.filename",
        "workflows[0].notebooks",
    ]


def test_order_refuses_a_cycle_built_by_hand() -> None:
    from runbook.model.workflows.workflow import TaskSpec

    spec = WorkflowSpec(
        "w", {"a": TaskSpec("a", "a.ipynb", {"x": "b"}), "b": TaskSpec("b", "b.ipynb", {"x": "a"})}
    )
    with pytest.raises(SpecError, match="dependency cycle"):
        spec.order()


def test_several_errors_are_all_reported() -> None:
    def break_many(document: dict[str, Any]) -> None:
        _report(document)["parameters"]["x"] = "foo"
        _report(document)["output"]["format"] = "docx"
        document["available_dates_sensor"]["schedule"] = "every day"
        document["available_dates_sensor"]["workflows"][0]["workflow_name"] = "nope"

    assert sorted(where for where, _ in _mutated(break_many)) == [
        "available_dates_sensor.schedule",
        "available_dates_sensor.workflows[0].workflow_name",
        "workflows[0].notebooks.flows_report.output.format",
        "workflows[0].notebooks.flows_report.parameters.x",
    ]


def test_date_stencil_errors_are_placed_in_the_sensor_entry() -> None:
    pytest.importorskip("runbook.model.stencil")
    errors = _mutated(_set([*ENTRY, "date_stencil"], ["yesterday"]))
    assert len(errors) == 1
    assert errors[0][0].startswith("available_dates_sensor.workflows[0].date_stencil"), errors


def test_invalid_yaml_is_one_error_with_line_and_column() -> None:
    errors = validate_workflows("workflows:\n  - name: [unclosed\n", "w.yml")
    assert len(errors) == 1
    assert errors[0].where.startswith("w.yml:")
    assert errors[0].where.count(":") == 2
    assert "invalid YAML" in errors[0].reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty document"), ("- a\n- b\n", "expected a mapping"), ("x: 2016-13-45\n", "invalid")],
)
def test_document_level_errors_are_placed_at_the_file(text: str, reason: str) -> None:
    errors = validate_workflows(text, "w.yml")
    assert [e.where.split(":")[0] for e in errors] == ["w.yml"]
    assert reason in errors[0].reason


def test_python_tags_are_refused_not_executed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = 'workflows: !!python/object/apply:os.system ["touch CANARY"]\n'
    errors = validate_workflows(text)
    assert len(errors) == 1 and "invalid YAML" in errors[0].reason
    with pytest.raises(SpecError):
        load_workflows(text)
    assert not (tmp_path / "CANARY").exists()


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("0 0 * * *", True),
        ("*/15 8-18 1,15 jan-jun mon-fri", True),
        ("@daily", True),
        ("0 0 * * 7", True),
        ("0 24 * * *", False),
        ("0 0 0 * *", False),
        ("0 0 * 13 *", False),
        ("*/0 * * * *", False),
        ("5-1 * * * *", False),
        ("0 0 * * * *", False),
        ("a b c d e", False),
    ],
)
def test_cron_check(expression: str, ok: bool) -> None:
    assert (cron_problem(expression) is None) is ok


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=True),
    st.dates(),
    st.sampled_from(
        [
            "name",
            "notebooks",
            "filename",
            "parameters",
            "output",
            "format",
            "pdf",
            "a",
            "b",
            "workflows",
            "workflow_name",
            "schedule",
            "cdr_types",
            "calls",
            "reference_date",
            "flowapi_url",
            "triggers",
            "manual",
            "sensor",
            "timezone",
            "UTC",
            "0 0 * * *",
            "../x",
            "/abs",
            "date_stencil",
            "earliest_date",
            "retries",
            "retry_delay",
        ]
    ),
    st.text(max_size=8),
)
_KEYS = st.one_of(_SCALARS.filter(lambda v: not isinstance(v, float)), st.just("workflows"))
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        _VALUES,
        st.fixed_dictionaries(
            {"workflows": st.lists(st.dictionaries(_KEYS, _VALUES, max_size=5), max_size=3)},
            optional={"available_dates_sensor": st.dictionaries(_KEYS, _VALUES, max_size=4)},
        ),
    )
)
def test_random_documents_only_ever_produce_spec_errors(document: object) -> None:
    try:
        text = yaml.safe_dump(document)
    except yaml.YAMLError:
        return
    errors = validate_workflows(text)
    assert all(isinstance(error, SpecError) for error in errors)
    if errors:
        with pytest.raises(SpecError):
            load_workflows(text)
    else:
        for spec in load_workflows(text).workflows.values():
            spec.order()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_only_ever_produces_spec_errors(text: str) -> None:
    assert all(isinstance(error, SpecError) for error in validate_workflows(text))


NATIVE_SENSORS = """
workflows:
  - name: w
    triggers:
      - {sensor: http, config: {field: dates, schedule: "*/5 * * * *"}}
      - {sensor: glob, config: {pattern: "in/*.csv", colour: red}}
      - {sensor: command, config: {command: []}}
      - {sensor: sql, config: {url: "sqlite:///x.db", query: 1, date_stencil: [[0, -1]]}}
      - {sensor: available_dates, config: {cdr_types: [calls, faxes], timezone: Mars/Base}}
      - {sensor: http, config: {url: "https://dates.example", earliest_date: soon}}
    notebooks:
      t: {filename: t.ipynb}
"""


def test_native_sensor_configs_are_checked_with_their_paths() -> None:
    errors = [(e.where, e.reason) for e in validate_workflows(NATIVE_SENSORS)]
    where = "workflows[0].triggers"
    assert [w for w, _ in errors] == [
        f"{where}[0].config.url",
        f"{where}[1].config.colour",
        f"{where}[2].config.command",
        f"{where}[3].config.query",
        f"{where}[3].config.date_stencil[0]",
        f"{where}[4].config.cdr_types",
        f"{where}[4].config.timezone",
        f"{where}[5].config.earliest_date",
    ]
    assert errors[0][1] == "missing: the http sensor needs it"
    assert errors[1][1].startswith("unknown key (expected one of: schedule, timezone")
