"""One `-p` everywhere: plan, workflow run and playbook run read `-p NAME VALUE` (and
`-p NAME=VALUE`) by the same rules, and every hint prints a syntax that works."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import click
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runbook.cli.plan import plan_command
from runbook.cli.playbook_runs import run_command as playbook_run
from runbook.cli.values import split_parameters
from runbook.cli.workflow_runs import run_command as workflow_run
from runbook.model.option_values import read_option_values, untyped_value
from runbook.model.repository import Repository
from runbook.model.workflows.workflow import load_workflows
from runbook.orchestrate.workflows.dag import bind_workflow_parameters
from tests.builders import write_runbook

Cli = Any

WORKFLOW = """workflows:
  - name: report
    parameters: [region, version]
    notebooks:
      only: {filename: only.ipynb, parameters: {region: region, version: version}}
"""
HINT = re.compile(r"pass (-p \S+ VALUE|-p \S+=VALUE)")


def _playbook(repo: Repository) -> None:
    document = {
        "name": "web",
        "version": "1.0",
        "parameters": {"reason": None, "version": "1.0"},
        "inventory": {"targets": [{"name": "web1"}]},
        "steps": [{"name": "say", "shell": "echo {{ params.reason }}"}],
    }
    (repo.root / "playbooks" / "web.yml").write_text(yaml.safe_dump(document))


def _hint_args(message: str) -> list[str]:
    found = HINT.search(message)
    assert found, message
    return shlex.split(found[1].replace("VALUE", "ok"))


def test_every_hint_prints_a_syntax_that_works(run_cli: Cli, repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [("code", "host = 'x'", ["parameters"])],
        parameters={"host": {"type": "str", "required": True}},
    )
    refused = run_cli("plan", "restart", "--as", "alice")
    assert refused.code == 2
    planned = run_cli("plan", "restart", "--as", "alice", "--json", *_hint_args(refused.err))
    assert planned.code == 0, planned.err
    assert json.loads(planned.out)["parameters"] == {"host": "ok"}

    _playbook(repo)
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    refused = run_cli("playbook", "run", "web", "--json")
    assert refused.code == 2
    hinted = run_cli("playbook", "run", "web", "--json", *_hint_args(refused.err))
    assert hinted.code == 0, hinted.err

    # Running a workflow takes a kernel (test_params_runs): here its hint is parsed by
    # `workflow run` itself and bound.
    spec = load_workflows(WORKFLOW).workflows["report"]
    with pytest.raises(Exception, match="is required") as missing:
        bind_workflow_parameters(spec, {})
    args = _hint_args(str(missing.value))
    context = workflow_run.make_context("run", [*args, "-p", "version=2", "report"])
    values = read_option_values(context.params["parameters"])
    assert bind_workflow_parameters(spec, values) == {"region": "ok", "version": 2}


def test_playbook_run_reads_values_as_plan_does(run_cli: Cli, repo: Repository) -> None:
    _playbook(repo)
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    both = run_cli("playbook", "run", "web", "--json", "-p", "reason=a=b", "-p", "version", "1.10")
    assert both.code == 0, both.err
    assert json.loads(both.out)["parameters"] == {"reason": "a=b", "version": "1.10"}


@pytest.mark.parametrize(
    ("command", "tail"),
    [(plan_command, ["restart"]), (workflow_run, ["report"]), (playbook_run, ["web"])],
)
def test_every_command_takes_both_forms_alike(command: click.Command, tail: list[str]) -> None:
    args = ["-p", "a", "1", "-p", "b=x=y", "--parameter=c=3", "-pd=", "-p", "e", "f=g", *tail]
    context = command.make_context(command.name or "", args)
    assert context.params["parameters"] == (
        ("a", "1"),
        ("b", "x=y"),
        ("c", "3"),
        ("d", ""),
        ("e", "f=g"),  # two tokens: the name, then the value as it is
    )


def test_one_reading_of_values_for_every_command() -> None:
    pairs = [("n", "3"), ("v", "1.10"), ("b", "true"), ("w", "no"), ("l", "[a, 2]"),
             ("t", "12:30"), ("why", "disk: full"), ("d", "2024-01-01")]  # fmt: skip
    values = read_option_values(pairs)
    assert dict(values) == dict(pairs)  # the text as typed, for a parameter with a type
    assert {k: untyped_value(v) for k, v in values.items()} == {
        "n": 3,
        "v": "1.10",
        "b": True,
        "w": "no",
        "l": ["a", 2],
        "t": "12:30",
        "why": "disk: full",
        "d": "2024-01-01",
    }
    spec = load_workflows(WORKFLOW).workflows["report"]
    bound = bind_workflow_parameters(
        spec, read_option_values([("region", "eu"), ("version", "1.10")])
    )
    assert bound == {"region": "eu", "version": "1.10"}


@pytest.mark.parametrize("name", ["a b", "1x", "x;y", "for"])
def test_a_name_that_is_not_an_identifier_is_refused_everywhere(name: str) -> None:
    with pytest.raises(Exception, match="not a valid name"):
        read_option_values([(name, "v")])


_TOKENS = st.lists(
    st.one_of(st.text(max_size=8), st.sampled_from(["--as", "alice", "--json", "-f", "x=1", "--"])),
    max_size=8,
)


@given(_TOKENS)
def test_arguments_without_a_parameter_option_are_left_alone(args: list[str]) -> None:
    plain = [a for a in args if not a.startswith(("-p", "--parameter"))]
    assert split_parameters(plain, {"--as": 1, "-f": 1}) == plain


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True), st.text(max_size=12))
def test_name_equals_value_is_name_then_value(name: str, value: str) -> None:
    assert split_parameters(["-p", f"{name}={value}"], {}) == ["-p", name, value]
    assert split_parameters(["-p", name, value], {}) == ["-p", name, value]
