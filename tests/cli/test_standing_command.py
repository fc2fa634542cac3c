"""A playbook whose runbook step needs review runs under a standing approval, or not at all."""

from __future__ import annotations

import json
from collections.abc import Callable

import nbformat
import pytest
import yaml

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.conftest import Result

Cli = Callable[..., Result]

pytestmark = pytest.mark.kernel


def setup(repo: Repository, targets: tuple[str, ...] = ("web1", "web2")) -> None:
    write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [
            ("code", "host = 'none'", ["parameters"]),
            ("code", "from pathlib import Path\nPath(f'{host}.done').write_text('1')", ["confirm"]),
        ],
        parameters={"host": {"type": "str", "required": True}},
    )
    path = repo.runbooks_dir / "restart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["runbook"]["tags"] = ["critical"]
    nbformat.write(notebook, path)
    playbook = {
        "name": "web",
        "version": "1.0",
        "inventory": {"targets": [{"name": t} for t in targets]},
        "steps": [
            {
                "name": "restart",
                "runbook": "runbooks/restart.ipynb",
                "parameters": {"host": "{{ target.name }}"},
            }
        ],
        "strategy": {"batch_size": ["100%"], "concurrency": 2},
    }
    (repo.root / "playbooks" / "web.yml").write_text(yaml.safe_dump(playbook))


def done(repo: Repository) -> set[str]:
    return {p.name for p in repo.runbooks_dir.glob("*.done")}


def test_refused_up_front_then_run_under_a_standing_approval(
    run_cli: Cli, repo: Repository
) -> None:
    setup(repo)
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    refused = run_cli("playbook", "run", "web")
    assert refused.code == 4  # refused before it started, as `run` refuses
    assert refused.err == (
        "runbook: error: runbooks/restart.ipynb: playbook:web may not run it unattended: "
        "target web1, step restart: no standing approval of this runbook\n"
    )
    assert json.loads(run_cli("playbook", "runs", "--json").out) == []  # nothing started
    granted = run_cli(
        "approve-standing",
        "restart",
        "--for",
        "playbook:web",
        "--bound",
        "host=web1|web2",
        "--confirm-unattended",
        "--as",
        "bob",
        "--json",
    )
    assert granted.code == 0, granted.err
    approval = json.loads(granted.out)
    assert approval["bounds"] == {"host": "web1|web2"} and approval["confirm_unattended"]
    ran = run_cli("playbook", "run", "web")
    assert ran.code == 0, ran.err
    assert done(repo) == {"web1.done", "web2.done"}  # confirm cells ran with nobody there
    listed = json.loads(run_cli("standing", "list", "--json").out)
    assert [a["id"] for a in listed] == [approval["id"]]
    assert run_cli("standing", "show", approval["id"]).code == 0


def test_a_target_outside_the_bounds_refuses_the_whole_playbook_before_it_starts(
    run_cli: Cli, repo: Repository
) -> None:
    setup(repo, ("web1", "web2", "db1"))
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    granted = run_cli(
        "approve-standing",
        "restart",
        "--for",
        "playbook:web",
        "--bound",
        "host=~web[0-9]+",
        "--as",
        "bob",
    )
    assert granted.code == 0, granted.err
    refused = run_cli("playbook", "run", "web")
    assert refused.code == 4  # refused before it started, as `run` refuses
    assert "target db1, step restart: standing approval" in refused.err
    assert "host = 'db1' does not match ~web[0-9]+" in refused.err
    assert done(repo) == set()  # not even web1, which is inside the bounds


def test_a_revoked_approval_refuses_and_bad_bounds_are_usage_errors(
    run_cli: Cli, repo: Repository
) -> None:
    setup(repo)
    assert run_cli("playbook", "import", "playbooks/web.yml").code == 0
    bad = run_cli("approve-standing", "restart", "--for", "playbook:web", "--bound", "host=1..x")
    assert bad.code == 2 and bad.err.count("\n") == 1
    unknown = run_cli("approve-standing", "restart", "--for", "pager:x", "--bound", "host=*")
    assert unknown.code == 2 and "expected workflow:NAME" in unknown.err
    granted = run_cli(
        "approve-standing", "restart", "--for", "playbook:web", "--bound", "host=*", "--json"
    )
    approval_id = json.loads(granted.out)["id"]
    assert run_cli("standing", "revoke", approval_id, "--as", "carol").code == 0
    refused = run_cli("playbook", "run", "web")
    assert refused.code == 4 and "was revoked by carol" in refused.err
    assert run_cli("standing", "show", "standing-00000000").code == 2


SOLO = """
workflows:
  - name: solo
    parameters: {greeting: hello}
    notebooks:
      only:
        filename: only.ipynb
        parameters: {greeting: greeting}
"""


def test_a_workflow_task_that_needs_review_runs_under_a_standing_approval(
    run_cli: Cli, repo: Repository
) -> None:
    from tests.orchestrate.workflows.test_dag import notebook

    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('require = "tagged"', 'require = "all"'))
    folder = repo.root / "workflows"
    (folder / "solo.yml").write_text(SOLO)
    notebook(
        folder / "only.ipynb",
        "greeting = ''",
        "from pathlib import Path\nPath(f'{greeting}.said').write_text(greeting)",
    )
    refused = run_cli("workflow", "run", "solo")
    assert refused.code == 4  # before anything starts
    assert refused.err == (
        "runbook: error: workflows/only.ipynb: workflow:solo may not run it unattended: "
        "task only: no standing approval of this runbook\n"
    )
    assert json.loads(run_cli("workflow", "runs", "--json").out) == []
    assert not list(folder.glob("*.said"))
    granted = run_cli(
        "approve-standing",
        "workflows/only.ipynb",
        "--for",
        "workflow:solo",
        "--bound",
        "greeting=hello|hi",
        "--as",
        "bob",
    )
    assert granted.code == 0, granted.err
    ran = run_cli("workflow", "run", "solo", "-p", "greeting", "hi")
    assert ran.code == 0, ran.err
    assert (folder / "hi.said").read_text() == "hi"
    outside = run_cli("workflow", "run", "solo", "-p", "greeting", "bye")
    assert outside.code == 4
    assert "greeting = 'bye' is not one of hello, hi" in outside.err
    assert not (folder / "bye.said").exists()
