"""Alias bombs through every YAML the CLI reads: one line naming the file, at once.

Without the loader's caps each of these takes minutes (validation walks 387 million
strings) or grows past a gigabyte (``workflow run`` serialises the parameter): the timeout
marker is only a backstop, the assertions are on the error itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nbformat
import pytest

from runbook.model.repository import Repository
from tests.builders import alias_bomb
from tests.conftest import Result

Cli = Callable[..., Result]

pytestmark = pytest.mark.timeout(60)

REFUSED = "YAML refused: aliases expand to more than 100000 nodes"

PLAYBOOK = f"""name: web
parameters: {{reason: {alias_bomb()}}}
inventory: {{targets: [{{name: web1}}]}}
steps: [{{name: check, shell: "true"}}]
"""

WORKFLOW = f"""workflows:
  - name: bomb
    parameters: {{greeting: {alias_bomb()}}}
    notebooks:
      first: {{filename: first.ipynb, parameters: {{greeting: greeting}}}}
"""

GOOD_WORKFLOW = """workflows:
  - name: good
    parameters: {greeting: hello}
    notebooks:
      first: {filename: first.ipynb, parameters: {greeting: greeting}}
"""


def test_playbook_validate_and_import_refuse_a_billion_laughs(
    run_cli: Cli, repo: Repository
) -> None:
    (repo.root / "playbooks" / "bomb.yml").write_text(PLAYBOOK)
    validated = run_cli("playbook", "validate", "playbooks/bomb.yml")
    assert validated.code == 1
    assert re.fullmatch(rf"playbooks/bomb\.yml:2:\d+: {REFUSED}\n", validated.out)
    imported = run_cli("playbook", "import", "playbooks/bomb.yml")
    assert imported.code == 1
    assert imported.err == f"runbook: error: {validated.out}"


def test_workflow_validate_and_run_refuse_a_billion_laughs(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows" / "bomb.yml").write_text(WORKFLOW)
    validated = run_cli("workflow", "validate", "workflows/bomb.yml")
    assert validated.code == 1
    assert re.fullmatch(rf"workflows/bomb\.yml:3:\d+: {REFUSED}\n", validated.out)
    ran = run_cli("workflow", "run", "bomb")
    assert ran.code == 1
    verdict = "(invalid file: workflow bomb cannot run)"
    assert ran.err == f"runbook: error: {validated.out.rstrip()} {verdict}\n"


def test_a_workflow_parameter_typed_as_a_bomb_is_refused(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows" / "good.yml").write_text(GOOD_WORKFLOW)
    nbformat.write(nbformat.v4.new_notebook(), repo.root / "workflows" / "first.ipynb")
    ran = run_cli("workflow", "run", "good", "-p", "greeting", alias_bomb())
    assert ran.code == 2
    assert ran.err == (
        "runbook: error: -p greeting: YAML refused: aliases expand to more than 100000 nodes\n"
    )


def test_plan_refuses_a_parameters_file_that_is_a_bomb(run_cli: Cli, repo: Repository) -> None:
    assert run_cli("create", "Restart database").code == 0
    (repo.root / "params.yaml").write_text(f"host: {alias_bomb()}\n")
    planned = run_cli("plan", "restart-database", "-f", "params.yaml")
    assert planned.code == 2
    assert re.fullmatch(rf"runbook: error: params\.yaml:1:\d+: {REFUSED}\n", planned.err)
    assert not list((repo.root / "runs").glob("plans/*"))


def test_plan_names_a_parameters_file_that_is_not_utf8(run_cli: Cli, repo: Repository) -> None:
    assert run_cli("create", "Restart database").code == 0
    (repo.root / "params.yaml").write_bytes(b"host: caf\xe9\n")
    planned = run_cli("plan", "restart-database", "-f", "params.yaml")
    assert planned.code == 2
    assert planned.err == (
        "runbook: error: params.yaml: cannot read parameters file: "
        "not UTF-8 text (invalid byte at offset 9)\n"
    )
