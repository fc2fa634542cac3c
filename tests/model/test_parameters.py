from __future__ import annotations

import datetime as dt

import pytest

from runbook.errors import MetadataError, ParameterError
from runbook.model.parameter_inference import infer_specs
from runbook.model.parameters import (
    ParameterSpec,
    check_name,
    check_secret_reference,
    coerce,
    parse_specs,
)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("str", "db1", "db1"),
        ("str", 5, "5"),
        ("int", "42", 42),
        ("int", 7, 7),
        ("float", "0.5", 0.5),
        ("float", 2, 2.0),
        ("bool", "yes", True),
        ("bool", "OFF", False),
        ("bool", True, True),
        ("date", "2026-01-31", "2026-01-31"),
        ("date", dt.date(2026, 1, 31), "2026-01-31"),
        ("datetime", "2026-01-31T08:00:00+00:00", "2026-01-31T08:00:00+00:00"),
        ("list", "a, b,c", ["a", "b", "c"]),
        ("list", '["a", 1, true]', ["a", 1, True]),
        ("list", ["x", dt.date(2026, 1, 1)], ["x", "2026-01-01"]),
    ],
)
def test_coerce_accepts_valid_values(kind: str, raw: object, expected: object) -> None:
    assert coerce(ParameterSpec(name="p", type=kind), raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("int", "4.5"),
        ("int", True),
        ("int", "ten"),
        ("float", "nan"),
        ("float", "inf"),
        ("bool", "maybe"),
        ("bool", 1),
        ("date", "31/01/2026"),
        ("date", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        ("datetime", "yesterday"),
        ("list", [{"nested": 1}]),
        ("str", ["a"]),
    ],
)
def test_coerce_rejects_invalid_values_naming_the_parameter(kind: str, raw: object) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'p'.*not a valid " + kind):
        coerce(ParameterSpec(name="p", type=kind), raw)


def test_choice_matches_declared_values_and_lists_them_when_wrong() -> None:
    spec = ParameterSpec(name="mode", type="choice", choices=("fast", "safe", 3))
    assert coerce(spec, "safe") == "safe"
    assert coerce(spec, "3") == 3
    with pytest.raises(ParameterError, match="not one of: fast, safe, 3"):
        coerce(spec, "reckless")


@pytest.mark.parametrize(
    "name", ["", "1x", "a-b", "x = 1\nimport os", "class", "None", "a b", "ä;", "x#"]
)
def test_names_must_be_identifiers_and_not_keywords(name: str) -> None:
    with pytest.raises(ParameterError, match="not a valid name"):
        check_name(name)


def test_parse_specs_reports_the_path_of_each_error() -> None:
    where = "r.ipynb: metadata.runbook.parameters"
    with pytest.raises(MetadataError, match=r"parameters\.port\.type: unknown type 'integer'"):
        parse_specs({"port": {"type": "integer"}}, where)
    with pytest.raises(MetadataError, match=r"parameters\.mode\.choices: a 'choice'"):
        parse_specs({"mode": {"type": "choice"}}, where)
    with pytest.raises(MetadataError, match=r"parameters\.n\.default: .*not a valid int"):
        parse_specs({"n": {"type": "int", "default": "x"}}, where)
    with pytest.raises(MetadataError, match=r"parameters\.n\.colour: unknown key"):
        parse_specs({"n": {"type": "int", "colour": "red"}}, where)
    with pytest.raises(MetadataError, match=r"parameters\.import os: not a valid name"):
        parse_specs({"import os": {"type": "str"}}, where)


def test_parse_specs_coerces_defaults() -> None:
    specs = parse_specs(
        {
            "when": {"type": "date", "default": "2026-02-01", "required": True, "help": "day"},
            "token": {"type": "str", "secret": True},
        },
        "x",
    )
    assert specs["when"] == ParameterSpec(
        name="when", type="date", default="2026-02-01", required=True, help="day"
    )
    assert specs["token"].secret


def test_infer_specs_reads_papermill_style_cells() -> None:
    source = (
        'host = "db1"  # the host to act on\n'
        "retries: int = 3  # how many times\n"
        "ratio = 0.5\n"
        "force = False  # type: bool skip checks\n"
        "hosts = ['a', 'b']\n"
        "computed = compute()\n"
        "import os\n"
    )
    specs = infer_specs(source)
    assert list(specs) == ["host", "retries", "ratio", "force", "hosts", "computed"]
    assert specs["host"] == ParameterSpec(
        name="host", type="str", default="db1", help="the host to act on"
    )
    assert specs["retries"].type == "int" and specs["retries"].default == 3
    assert specs["retries"].help == "how many times"
    assert specs["ratio"].type == "float"
    assert specs["force"].type == "bool" and specs["force"].help == "skip checks"
    assert specs["hosts"] == ParameterSpec(name="hosts", type="list", default=["a", "b"])
    assert specs["computed"].default is None


def test_infer_specs_of_unparsable_cell_reads_its_lines_as_papermill_does() -> None:
    assert infer_specs("x = (") == {"x": ParameterSpec(name="x", type="any")}


@pytest.mark.parametrize("reference", ["env:DB_PASSWORD", "file:/run/secrets/db", "secret:db"])
def test_secret_parameters_take_references(reference: str) -> None:
    spec = ParameterSpec(name="db_password", secret=True)
    assert check_secret_reference(spec, reference) == reference


@pytest.mark.parametrize("value", ["hunter2", "env:", 42, "mailto:x"])
def test_secret_parameters_refuse_values(value: object) -> None:
    spec = ParameterSpec(name="db_password", secret=True)
    with pytest.raises(ParameterError, match="is secret: pass a reference"):
        check_secret_reference(spec, value)
