"""Playbook definitions: loading, collected validation errors, templates, the frozen copy."""

from __future__ import annotations

import copy
import json
import keyword
import subprocess
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import SpecError
from runbook.model.playbooks.playbook import (
    AddedTargets,
    CommandInventory,
    FileInventory,
    HttpInventory,
    OnFailure,
    PlaybookSpec,
    RunbookStep,
    ShellStep,
    StaticInventory,
    StrategySpec,
    Target,
    TargetState,
    load_playbook,
    playbook_from_json,
    playbook_to_json,
    validate_playbook,
)
from runbook.model.playbooks.playbook_templates import as_text, render_step, scan_template
from runbook.typing import JsonValue

EXAMPLE = """\
name: restart-web
version: "1.4"
description: Rolling restart of the web tier
parameters: {reason: null, drain_seconds: 30}
inventory:
  targets:
    - {name: web1, address: 10.0.0.1, vars: {role: web, rack: {row: 3}}}
    - {name: web2, vars: {role: web, rack: {row: 4}}}
steps:
  - runbook: runbooks/drain.ipynb
    parameters:
      host: "{{ target.address }}"
      force: true
      why: "{{ params.reason }}"
      seconds: "{{ params.drain_seconds }}"
      note: "drain {{ target.name }} ({{ target.role }}) for {{params.drain_seconds}}s"
      hosts: ["{{ target.name }}", {row: "{{ target.vars.rack.row }}"}]
  - name: health
    shell: "curl -fsS http://{{ target.address }}/health"
    timeout: 30
    rollback: "systemctl start web"
  - shell: [echo, "{{ target.vars.role }}"]
strategy:
  batch_size: [1, "10%", "100%"]
  max_failures: "10%"
  concurrency: 5
  pause_between_batches: 2.5
  on_failure: rollback
  added_targets: ignore
lock: false
"""

BASE: dict[str, Any] = yaml.safe_load(EXAMPLE)
WEB1 = Target("web1", "10.0.0.1", {"role": "web", "rack": {"row": 3}})
WEB2 = Target("web2", "web2", {"role": "web", "rack": {"row": 4}})


def _errors(document: object) -> list[tuple[str, str]]:
    return [(e.where, e.reason) for e in validate_playbook(yaml.safe_dump(document))]


def _changed(path: str, value: Any) -> dict[str, Any]:
    """BASE with the value at a dotted path (``steps.1.timeout``) replaced, or removed."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is _REMOVE:
        del node[key]
    else:
        node[key] = value
    return document


_REMOVE: Any = object()


def test_loads_the_example() -> None:
    spec = load_playbook(EXAMPLE)
    assert spec.name == "restart-web"
    assert spec.version == "1.4"
    assert spec.description == "Rolling restart of the web tier"
    assert spec.parameters == {"reason": None, "drain_seconds": 30}
    assert spec.required == ("reason",)
    assert spec.inventory == StaticInventory((WEB1, WEB2))
    drain, health, echo = spec.steps
    assert isinstance(drain, RunbookStep)
    assert (drain.name, drain.runbook) == ("drain", "runbooks/drain.ipynb")
    assert drain.parameters["force"] is True
    assert health == ShellStep(
        "health", "curl -fsS http://{{ target.address }}/health", 30.0, "systemctl start web"
    )
    assert echo == ShellStep("step-3", ("echo", "{{ target.vars.role }}"), 300.0, None)
    assert spec.strategy == StrategySpec(
        (1, "10%", "100%"), "10%", 5, 2.5, OnFailure.ROLLBACK, AddedTargets.IGNORE
    )
    assert spec.lock is False


def test_defaults() -> None:
    text = "name: x\nversion: 2\ninventory: {targets: [{name: a}]}\nsteps: [{shell: 'true'}]\n"
    spec = load_playbook(text)
    assert spec.version == "2"
    assert spec.description == ""
    assert spec.parameters == {}
    assert spec.inventory == StaticInventory((Target("a", "a", {}),))
    assert spec.steps == (ShellStep("step-1", "true", 300.0, None),)
    assert spec.strategy == StrategySpec(("100%",), 0, 20, 0.0, OnFailure.STOP, AddedTargets.LATER)
    assert spec.lock is True


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        ({"file": "inventory/web.yml"}, FileInventory("inventory/web.yml")),
        (
            {"command": "./list-hosts --tier 'web tier'"},
            CommandInventory(("./list-hosts", "--tier", "web tier")),
        ),
        ({"command": ["list", "--all"]}, CommandInventory(("list", "--all"))),
        (
            {"http": {"url": "https://cmdb/api", "field": "hosts", "headers": {"X-Key": "k"}}},
            HttpInventory("https://cmdb/api", "hosts", {"X-Key": "k"}),
        ),
        ({"http": {"url": "http://cmdb/api"}}, HttpInventory("http://cmdb/api", None, {})),
    ],
)
def test_inventory_sources(inventory: dict[str, Any], expected: object) -> None:
    document = _changed("inventory", inventory)
    # Static target variables are checked at import; other sources only at run time.
    spec = load_playbook(yaml.safe_dump(document))
    assert spec.inventory == expected
    assert playbook_from_json(json.loads(json.dumps(playbook_to_json(spec)))) == spec


def test_frozen_copy_round_trips_exactly() -> None:
    spec = load_playbook(EXAMPLE)
    stored = json.dumps(playbook_to_json(spec), sort_keys=True)
    again = playbook_from_json(json.loads(stored))
    assert again == spec
    assert json.dumps(playbook_to_json(again), sort_keys=True) == stored


@settings(max_examples=100, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    version=st.one_of(st.integers(0, 10**6), st.text(min_size=1).filter(str.strip)),
    batch=st.lists(
        st.one_of(st.integers(1, 500), st.integers(1, 100).map(lambda n: f"{n}%")),
        min_size=1,
        max_size=4,
    ),
    failures=st.one_of(st.integers(0, 50), st.integers(0, 100).map(lambda n: f"{n}%")),
    pause=st.floats(0, 3600),
    defaults=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda n: not keyword.iskeyword(n)
        ),
        st.one_of(st.none(), st.integers(), st.text(), st.booleans()),
        max_size=4,
    ),
)
def test_any_valid_playbook_round_trips(
    name: str,
    version: int | str,
    batch: list[int | str],
    failures: int | str,
    pause: float,
    defaults: dict[str, Any],
) -> None:
    document = _changed("name", name)
    document.update(version=version, parameters=defaults)
    document["steps"] = [{"shell": "true"}]
    document["strategy"].update(batch_size=batch, max_failures=failures)
    document["strategy"]["pause_between_batches"] = pause
    spec = playbook_from_json(document)
    assert spec.version == str(version)
    assert playbook_from_json(json.loads(json.dumps(playbook_to_json(spec)))) == spec


@pytest.mark.parametrize(
    ("path", "value", "where", "reason"),
    [
        ("name", "-bad", "name", "expected a name of letters"),
        ("name", _REMOVE, "name", "missing"),
        ("version", _REMOVE, "version", "missing"),
        ("version", True, "version", "not a boolean"),
        ("version", "  ", "version", "expected a version"),
        ("description", 3, "description", "expected text"),
        ("parameters", ["a"], "parameters", "expected a mapping"),
        ("parameters.class", 1, "parameters.class", "not a valid name"),
        ("inventory", _REMOVE, "inventory", "missing"),
        ("inventory.file", "a.yml", "inventory", "exactly one of"),
        ("inventory.targets", [], "inventory.targets", "non-empty list"),
        ("inventory.targets.0.name", _REMOVE, "inventory.targets[0].name", "missing"),
        ("inventory.targets.1.name", "web1", "inventory.targets[1].name", "duplicate target"),
        ("inventory.targets.1.name", 7, "inventory.targets[1].name", "not int 7"),
        ("inventory.targets.0.address", "a b", "inventory.targets[0].address", "without spaces"),
        ("inventory.targets.0.vars", [1], "inventory.targets[0].vars", "expected a mapping"),
        ("inventory.targets.0.vars.my-var", 1, "inventory.targets[0].vars.my-var", "letters"),
        ("inventory.targets.0.port", 22, "inventory.targets[0].port", "unknown key"),
        ("steps", [], "steps", "non-empty list"),
        ("steps", _REMOVE, "steps", "missing"),
        ("steps.0.shell", "x", "steps[0]", "not both"),
        ("steps.2", {"name": "x"}, "steps[2]", "'runbook' or a 'shell'"),
        ("steps.2", "echo", "steps[2]", "expected a mapping"),
        ("steps.0.runbook", "/etc/x.ipynb", "steps[0].runbook", "is absolute"),
        ("steps.0.runbook", "runbooks/../../x.ipynb", "steps[0].runbook", "contains '..'"),
        ("steps.0.runbook", "runbooks/drain.py", "steps[0].runbook", "ending in .ipynb"),
        ("steps.0.timeout", 0, "steps[0].timeout", "seconds > 0"),
        ("steps.0.parameters.not-a-name", 1, "steps[0].parameters.not-a-name", "valid name"),
        ("steps.1.name", "drain", "steps[1].name", "duplicate step name 'drain'"),
        ("steps.1.name", "a b", "steps[1].name", "step name"),
        ("steps.1.timeout", 0, "steps[1].timeout", "seconds > 0"),
        ("steps.1.timeout", "30", "steps[1].timeout", "seconds > 0"),
        ("steps.1.shell", [], "steps[1].shell", "argv list"),
        ("steps.1.shell", "  ", "steps[1].shell", "command string"),
        ("steps.1.rollback", {"a": 1}, "steps[1].rollback", "command string"),
        ("steps.1.retries", 3, "steps[1].retries", "unknown key"),
        ("strategy", 3, "strategy", "expected a mapping"),
        ("strategy.batch_size", [], "strategy.batch_size", "non-empty list"),
        ("strategy.batch_size", 0, "strategy.batch_size", "count ≥ 1"),
        ("strategy.batch_size", "0%", "strategy.batch_size", "0 < N ≤ 100"),
        ("strategy.batch_size.1", "101%", "strategy.batch_size[1]", "percentage"),
        ("strategy.batch_size.1", "10 %", "strategy.batch_size[1]", "percentage"),
        ("strategy.batch_size.1", True, "strategy.batch_size[1]", "count"),
        ("strategy.max_failures", -1, "strategy.max_failures", "count ≥ 0"),
        ("strategy.max_failures", "150%", "strategy.max_failures", "0 ≤ N ≤ 100"),
        ("strategy.concurrency", 0, "strategy.concurrency", "integer ≥ 1"),
        ("strategy.pause_between_batches", -1, "strategy.pause_between_batches", "≥ 0"),
        ("strategy.on_failure", "retry", "strategy.on_failure", "stop, continue, rollback"),
        ("strategy.added_targets", "now", "strategy.added_targets", "later, ignore"),
        ("strategy.serial", 1, "strategy.serial", "unknown key"),
        ("lock", "yes please", "lock", "true or false"),
        ("become", True, "become", "unknown key (expected one of: name, version,"),
    ],
)
def test_each_error_is_placed(path: str, value: Any, where: str, reason: str) -> None:
    assert _errors(copy.deepcopy(BASE)) == []
    errors = _errors(_changed(path, value))
    assert any(w == where and reason in r for w, r in errors), errors


def test_dates_are_not_json_values() -> None:
    assert validate_playbook(EXAMPLE.replace("force: true", "force: '2024-01-01'")) == []
    text = EXAMPLE.replace("force: true", "force: 2024-01-01")
    errors = [(e.where, e.reason) for e in validate_playbook(text)]
    assert len(errors) == 1
    assert errors[0][0] == "steps[0].parameters.force"
    assert "quote dates" in errors[0][1]


def test_every_error_is_collected_in_one_pass() -> None:
    document = _changed("name", "-x")
    document["strategy"]["concurrency"] = 0
    document["steps"][1]["timeout"] = -1
    document["inventory"]["targets"][1]["name"] = "web1"
    wheres = [where for where, _ in _errors(document)]
    assert wheres == [
        "name",
        "inventory.targets[1].name",
        "steps[1].timeout",
        "strategy.concurrency",
    ]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ target.address | upper }}", "not a dotted name"),
        ("{{ target.address + 1 }}", "not a dotted name"),
        ("{{ }}", "empty template"),
        ("{{ env.HOME }}", "unknown name 'env'"),
        ("{{ target }}", "name a field"),
        ("{{ target.vars }}", "name a variable"),
        ("{{ target.name.first }}", "has no fields"),
        ("{{ params }}", "expected params.NAME"),
        ("{{ params.reason.x }}", "expected params.NAME"),
        ("{{ params.nope }}", "unknown parameter 'nope' in {{ params.nope }}"),
        ("{{ target.vars.zone }}", "no variable 'zone' on target(s) web1, web2"),
        ("{{ target.rack.column }}", "no variable 'rack.column'"),
        ("echo {{ target.name", "without a closing"),
    ],
)
def test_bad_templates_are_errors_at_their_value(template: str, reason: str) -> None:
    shell = _errors(_changed("steps.1.shell", f"x {template}"))
    assert any(w == "steps[1].shell" and reason in r for w, r in shell), shell
    argv = _errors(_changed("steps.2.shell", ["echo", template]))
    assert any(w == "steps[2].shell[1]" and reason in r for w, r in argv), argv
    nested = _errors(_changed("steps.0.parameters.hosts", [{"k": template}]))
    assert any(w == "steps[0].parameters.hosts[0].k" and reason in r for w, r in nested), nested
    rollback = _errors(_changed("steps.1.rollback", template))
    assert any(w == "steps[1].rollback" and reason in r for w, r in rollback), rollback


def test_target_variables_are_checked_at_run_time_for_dynamic_inventories() -> None:
    document = _changed("inventory", {"file": "hosts.json"})
    document["steps"][1]["shell"] = "echo {{ target.vars.zone }}"
    assert _errors(document) == []


def test_scan_template_normalises_the_shorthand() -> None:
    references, problems = scan_template("{{target.role}} {{ target.vars.a.b }} {{params.x}}")
    assert problems == []
    assert [(r.root, r.path) for r in references] == [
        ("target", ("vars", "role")),
        ("target", ("vars", "a", "b")),
        ("params", ("x",)),
    ]


def test_yaml_tags_are_refused_never_run(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    text = f"!!python/object/apply:os.system ['touch {marker}']\n"
    errors = validate_playbook(text, "p.yml")
    assert len(errors) == 1
    assert errors[0].where.startswith("p.yml:1:")
    assert not marker.exists()


def test_document_level_errors() -> None:
    assert [e.reason for e in validate_playbook("")] == [
        "empty document: expected a mapping with name, version, steps…"
    ]
    assert validate_playbook("[1]", "p.yml")[0].where == "p.yml"
    syntax = validate_playbook("name: [x\n", "p.yml")
    assert syntax[0].where.startswith("p.yml:") and "invalid YAML" in syntax[0].reason


def test_load_raises_the_first_error_with_the_file_name() -> None:
    document = _changed("name", "-x")
    document["lock"] = 3
    with pytest.raises(SpecError) as caught:
        load_playbook(yaml.safe_dump(document), "playbooks/web.yml")
    assert caught.value.where == "playbooks/web.yml: name"
    with pytest.raises(SpecError, match=r"^stored: lock: expected true or false"):
        playbook_from_json(_changed("lock", 3), "stored")


def test_default_step_names_must_be_unique() -> None:
    document = copy.deepcopy(BASE)
    document["steps"].append({"runbook": "other/drain.ipynb"})
    errors = _errors(document)
    assert errors == [
        (
            "steps[3].name",
            "duplicate step name 'drain' (also steps[0]); give each step its own name",
        )
    ]


# --- rendering --------------------------------------------------------------------------------


PARAMS: dict[str, Any] = {"reason": "it's slow; rm -rf / $(x)", "drain_seconds": 30}


def test_render_runbook_step_keeps_types_of_whole_templates() -> None:
    spec = load_playbook(EXAMPLE)
    rendered = render_step(spec.steps[0], WEB1, PARAMS)
    assert rendered.kind == "runbook"
    assert rendered.runbook == "runbooks/drain.ipynb"
    assert rendered.parameters == {
        "host": "10.0.0.1",
        "force": True,
        "why": PARAMS["reason"],
        "seconds": 30,
        "note": "drain web1 (web) for 30s",
        "hosts": ["web1", {"row": 3}],
    }
    assert rendered.argv == []


def test_render_shell_string_quotes_every_value() -> None:
    step = ShellStep("s", "printf '%s|%s' {{ params.reason }} {{ target.name }}", 5.0, None)
    rendered = render_step(step, WEB2, PARAMS)
    assert rendered.argv[:2] == ["/bin/sh", "-c"]
    assert rendered.timeout == 5.0
    assert rendered.rollback_argv is None
    done = subprocess.run(rendered.argv, capture_output=True, text=True, check=True)
    assert done.stdout == f"{PARAMS['reason']}|web2"


@settings(max_examples=60, deadline=None)
@given(value=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
def test_any_value_reaches_the_shell_as_one_word(value: str) -> None:
    step = ShellStep("s", "printf %s {{ params.v }}", 5.0, None)
    argv = render_step(step, WEB1, {"v": value}).argv
    done = subprocess.run(argv, capture_output=True, check=True)
    assert done.stdout == value.encode()


def test_render_argv_is_verbatim_and_rollback_rendered() -> None:
    step = ShellStep(
        "s",
        ("echo", "{{ target.address }}:{{ params.drain_seconds }}"),
        9.0,
        "stop {{ target.name }}",
    )
    rendered = render_step(step, WEB1, {**PARAMS, "drain_seconds": True})
    assert rendered.argv == ["echo", "10.0.0.1:true"]
    assert rendered.rollback_argv == ["/bin/sh", "-c", "stop web1"]
    rendered = render_step(ShellStep("s", ("x", "{{ params.reason }}")), WEB1, PARAMS)
    assert rendered.argv == ["x", PARAMS["reason"]]


def test_render_unknown_variable_names_target_and_variable() -> None:
    step = RunbookStep("drain", "runbooks/drain.ipynb", {"z": "{{ target.vars.rack.zone }}"})
    with pytest.raises(SpecError) as caught:
        render_step(step, WEB2, PARAMS)
    assert caught.value.where == "step 'drain'"
    assert "target 'web2' has no variable 'rack.zone'" in caught.value.reason
    with pytest.raises(SpecError, match=r"target 'bare' has no variable 'role'.*variables: none"):
        render_step(ShellStep("s", "echo {{ target.role }}"), Target("bare", "bare"), PARAMS)
    with pytest.raises(SpecError, match="no value for parameter 'missing'"):
        render_step(ShellStep("s", ("{{ params.missing }}",)), WEB1, PARAMS)


def test_as_text() -> None:
    values: list[JsonValue] = ["a", 3, 2.5, True, None, [1, "b"], {"k": False}]
    assert [as_text(v) for v in values] == [
        "a",
        "3",
        "2.5",
        "true",
        "null",
        '[1, "b"]',
        '{"k": false}',
    ]


def test_target_states() -> None:
    assert [s.value for s in TargetState] == [
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "SKIPPED",
        "CANCELLED",
        "ADDED",
        "REMOVED",
        "INTERRUPTED",
    ]
    assert TargetState("SKIPPED").finished
    assert TargetState.INTERRUPTED.finished
    assert not TargetState.PENDING.finished
    assert not TargetState.ADDED.finished
    assert not TargetState.RUNNING.finished


def test_spec_is_immutable() -> None:
    spec = load_playbook(EXAMPLE)
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    assert isinstance(spec, PlaybookSpec)
