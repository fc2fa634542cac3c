"""An approval covers the repository code a plan's cells import: swap it and the run is refused."""

from __future__ import annotations

import importlib.util
import json
import marshal
import sys

import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import runbook

pytestmark = pytest.mark.kernel

GENUINE = "def greet():\n    return 'genuine helper'\n"
HOSTILE = "def greet():\n    open('pwned', 'w').write('x')\n    return 'hostile'\n"


def _approved_plan(repo: Repository) -> str:
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('require = "tagged"', 'require = "all"'))
    (repo.runbooks_dir / "rbhelper.py").parent.mkdir(parents=True, exist_ok=True)
    (repo.runbooks_dir / "rbhelper.py").write_text(GENUINE)
    write_runbook(
        repo.runbooks_dir / "greet.ipynb",
        [
            ("code", "import sys\nsys.path.insert(0, 'runbooks')\nimport rbhelper", []),
            ("code", "print(rbhelper.greet())", []),
        ],
    )
    planned = runbook(repo, "plan", "greet", "--as", "alice", "--json")
    assert planned.returncode == 0, planned.stderr
    plan_id = str(json.loads(planned.stdout)["id"])
    reviewed = runbook(repo, "review", plan_id, "--approve", "--as", "bob")
    assert reviewed.returncode == 0, reviewed.stderr
    assert "runbooks/rbhelper.py" in reviewed.stdout  # the reviewer is shown what is bound
    return plan_id


def _run(repo: Repository, plan_id: str) -> tuple[int, str, str]:
    result = runbook(repo, "run", plan_id, "--yes", "--as", "carol")
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def test_a_module_swapped_after_approval_is_refused_and_the_genuine_one_runs(
    repo: Repository,
) -> None:
    plan_id = _approved_plan(repo)
    shown = json.loads(runbook(repo, "show-plan", plan_id, "--json").stdout)
    assert [(m["path"], m["state"]) for m in shown["modules"]] == [
        ("runbooks/rbhelper.py", "unchanged")
    ]
    assert runbook(repo, "verify", plan_id).returncode == 0

    helper = repo.runbooks_dir / "rbhelper.py"
    helper.write_text(HOSTILE)
    code, _, err = _run(repo, plan_id)
    assert code == 4 and err.count("\n") == 1
    assert "runbooks/rbhelper.py changed" in err and "plan the runbook again" in err
    assert not (repo.runbooks_dir / "pwned").exists()
    verified = runbook(repo, "verify", plan_id)
    assert verified.returncode == 1 and "runbooks/rbhelper.py changed" in verified.stderr
    listed = json.loads(runbook(repo, "plans", "--json").stdout)
    assert [p["status"] for p in listed] == ["modified"]

    helper.write_text(GENUINE)
    code, out, err = _run(repo, plan_id)
    assert code == 0, err
    assert "genuine helper" in out and not (repo.runbooks_dir / "pwned").exists()


def test_an_added_or_removed_module_is_refused_naming_it(repo: Repository) -> None:
    plan_id = _approved_plan(repo)
    (repo.root / "json.py").write_text("raise SystemExit('shadowed')\n")
    code, _, err = _run(repo, plan_id)
    assert code == 4 and "json.py added" in err
    (repo.root / "json.py").unlink()
    (repo.runbooks_dir / "rbhelper.py").unlink()
    code, _, err = _run(repo, plan_id)
    assert code == 4 and "runbooks/rbhelper.py removed" in err
    reviewed = runbook(repo, "review", plan_id, "--approve", "--as", "dave")
    assert reviewed.returncode == 1 and "runbooks/rbhelper.py removed" in reviewed.stderr


def test_a_planted_bytecode_file_never_runs_in_place_of_the_reviewed_source(
    repo: Repository,
) -> None:
    plan_id = _approved_plan(repo)
    source = repo.runbooks_dir / "rbhelper.py"
    # A .pyc whose header matches the reviewed source's mtime and size: Python's default
    # check would take it for the source's own bytecode.
    stat = source.stat()
    code = compile(HOSTILE, str(source), "exec")
    header = (
        importlib.util.MAGIC_NUMBER
        + (0).to_bytes(4, "little")
        + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
        + (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    )
    cache = source.parent / "__pycache__" / f"rbhelper.{sys.implementation.cache_tag}.pyc"
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(header + marshal.dumps(code))
    exit_code, out, err = _run(repo, plan_id)
    assert exit_code == 0, err
    assert "genuine helper" in out and not (repo.runbooks_dir / "pwned").exists()
    assert cache.read_bytes() == header + marshal.dumps(code)  # nothing rewrote it either
    # The run's bytecode outside the repository is shared with the next runs; the
    # repository's own never is.
    shared = repo.state_dir / "pycache"
    assert any(shared.rglob(f"*.{sys.implementation.cache_tag}.pyc"))
    mirror = shared / repo.root.resolve().relative_to("/")
    assert not mirror.exists()
    again = _run(repo, _approved_plan(repo))  # a new plan: the success spent the first's approval
    assert again[0] == 0 and "genuine helper" in again[1], again[2]


def test_a_kernel_path_entry_inside_the_repository_is_bound_too(repo: Repository) -> None:
    lib = repo.root / "runs" / "vendor"
    lib.mkdir(parents=True)
    (lib / "vendored.py").write_text("VALUE = 'vendored v1'\n")
    write_runbook(
        repo.runbooks_dir / "v.ipynb", [("code", "import vendored\nprint(vendored.VALUE)", [])]
    )
    env = {"PYTHONPATH": "runs/vendor"}
    planned = runbook(repo, "plan", "v", "--as", "alice", "--json", **env)
    plan_id = str(json.loads(planned.stdout)["id"])
    assert (
        "runs/vendor/vendored.py"
        in json.loads((repo.root / json.loads(planned.stdout)["notebook"]).read_text())["metadata"][
            "runbook"
        ]["plan"]["modules"]
    )
    ran = runbook(repo, "run", plan_id, "--yes", **env)
    assert ran.returncode == 0 and "vendored v1" in ran.stdout, ran.stderr
    (lib / "vendored.py").write_text("VALUE = 'vendored v2'\n")
    refused = runbook(repo, "run", plan_id, "--yes", **env)
    assert refused.returncode == 4 and "runs/vendor/vendored.py changed" in refused.stderr
