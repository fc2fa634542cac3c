"""Fuzzing the YAML documents of a repository: workflows, playbooks and inventory files.

Mutations of valid documents (a value replaced by a hostile one: deep, huge, odd types,
lone surrogates), YAML that has broken parsers, and plain garbage. Every example must end
in exit 0 or one clear error line with a documented code (:func:`assert_clear`).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runbook.model.repository import Repository
from tests.builders import alias_bomb
from tests.cli.fuzzing import (
    FUZZ,
    Cli,
    Deep,
    assert_clear,
    document_text,
    json_text,
    mutated,
    yaml_text,
)

pytestmark = pytest.mark.slow

ALIAS_BOMB = alias_bomb().encode()

WORKFLOWS: dict[str, Any] = {
    "workflows": [
        {
            "name": "native",
            "parameters": {"region": "north", "days": [1, 2]},
            "triggers": [
                {"schedule": "0 2 * * *", "timezone": "Europe/Paris"},
                {"sensor": "http", "config": {"url": "https://x.example/d", "date_stencil": [-1]}},
                "manual",
            ],
            "notebooks": {
                "first": {
                    "filename": "missing.ipynb",
                    "parameters": {"region": "region", "day": "reference_date"},
                    "retries": 2,
                    "retry_delay": 60,
                },
                "second": {
                    "filename": "missing2.ipynb",
                    "parameters": {"upstream": "first"},
                    "output": {"format": "html", "template": "report.html.j2"},
                },
            },
        },
        {"name": "flows", "notebooks": {"only": {"filename": "missing.ipynb"}}},
    ],
    "available_dates_sensor": {
        "schedule": "0 0 * * *",
        "cdr_types": ["calls", "sms"],
        "workflows": [
            {
                "workflow_name": "flows",
                "parameters": {},
                "earliest_date": "2016-01-01",
                "date_stencil": [["2016-01-01", "2016-01-02"], -1, 0],
            }
        ],
    },
}


@FUZZ
@given(content=document_text(WORKFLOWS))
@example(content=b"\x1f")  # the YAML reader refuses it before parsing starts
@example(
    content=b"workflows: [{name: w, notebooks: {a: {filename: x.ipynb}}, parameters: "
    + ALIAS_BOMB
    + b"}]"
)
def test_fuzz_workflow_files(run_cli: Cli, repo: Repository, content: bytes) -> None:
    (repo.root / "workflows" / "f.yml").write_bytes(content)
    validated = run_cli("workflow", "validate", "workflows/f.yml", "--json")
    assert_clear(validated)
    assert_clear(run_cli("workflow", "list", "--json"))
    if validated.code == 0:
        for name in ("native", "flows"):
            assert_clear(run_cli("workflow", "run", name, "--json"))


PLAYBOOK: dict[str, Any] = {
    "name": "web",
    "version": "1.4",
    "parameters": {"reason": None, "count": 3},
    "inventory": {"targets": [{"name": "web1", "address": "10.0.0.1", "vars": {"r": "a"}}]},
    "steps": [
        {
            "name": "drain",
            "runbook": "runbooks/drain.ipynb",
            "parameters": {"host": "{{ target.address }}", "why": "{{ params.reason }}"},
        },
        {"name": "health", "shell": "true {{ target.address }}", "rollback": "true"},
    ],
    "strategy": {
        "batch_size": [1, "10%", "100%"],
        "max_failures": 0,
        "concurrency": 20,
        "on_failure": "stop",
    },
    "lock": True,
}


STEP_PARAMETERS_AS_A_LIST = {
    **PLAYBOOK,
    "steps": [{"name": "drain", "runbook": "runbooks/drain.ipynb", "parameters": [1, 2]}],
}


@FUZZ
@given(content=document_text(PLAYBOOK))
@example(content=yaml_text(STEP_PARAMETERS_AS_A_LIST).encode())
@example(
    content=yaml_text({**PLAYBOOK, "parameters": {"reason": "x"}}).encode() + b"x: !!set {a}\n"
)
def test_fuzz_playbook_files(run_cli: Cli, repo: Repository, content: bytes) -> None:
    # Fuzzed playbooks are validated, imported and shown, never run: their steps are shell.
    (repo.root / "playbooks" / "f.yml").write_bytes(content)
    assert_clear(run_cli("playbook", "validate", "playbooks/f.yml", "--json"))
    imported = run_cli("playbook", "import", "playbooks/f.yml", "--json")
    assert_clear(imported)
    if imported.code == 0:
        assert_clear(run_cli("playbook", "list"))
        assert_clear(run_cli("playbook", "show", "web"))
        assert_clear(run_cli("playbook", "show", "web", "--json"))


INVENTORY: dict[str, Any] = {
    "targets": [
        {"name": "web1", "address": "10.0.0.1", "vars": {"role": "web", "n": 1}},
        {"name": "web2"},
    ]
}


def inventory_playbook(repo: Repository, suffix: str) -> None:
    (repo.root / "playbooks" / f"inv{suffix}.yml").write_text(
        f'name: inv{suffix}\nversion: "1"\n'
        f"inventory: {{file: inventory/hosts.{suffix}}}\n"
        'steps: [{name: check, shell: "true {{ target.address }} {{ target.name }}"}]\n'
    )


@FUZZ
@given(
    suffix=st.sampled_from(["yml", "json"]),
    content=st.one_of(
        document_text(INVENTORY),
        mutated(INVENTORY).map(lambda d: json_text(d).encode("utf-8", "surrogatepass")),
    ),
)
@example(
    suffix="json", content=json_text({"targets": [{"name": "a", "vars": Deep(999, 1)}]}).encode()
)
def test_fuzz_inventory_files(run_cli: Cli, repo: Repository, suffix: str, content: bytes) -> None:
    (repo.root / "inventory").mkdir(exist_ok=True)
    inventory_playbook(repo, suffix)
    assert run_cli("playbook", "import", f"playbooks/inv{suffix}.yml").code == 0
    (repo.root / "inventory" / f"hosts.{suffix}").write_bytes(content)
    assert_clear(run_cli("playbook", "run", f"inv{suffix}", "--json"))
