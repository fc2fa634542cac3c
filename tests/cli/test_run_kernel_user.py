"""``[kernel] user``: a run's kernel is a process of another OS user, probed from a cell.

The probes read ``/proc`` from inside the kernel, as a hostile cell would: its own uid and
groups, the runbook process's ``environ`` (its credentials, as it was executed), the SQLite
store. The same probe in a kernel of the runbook's own user reads them all, so the probe is
known to see what it looks for.

Starting a process as another user needs root, and the kernel's Python must be readable by
that user, which a virtual environment under a private home folder is not. So the test
builds, in a folder open to everyone, a copy of the packages a kernel needs and a
kernelspec that runs them with the system's Python.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from runbook.model.repository import Repository, find_repository
from runbook.orchestrate.initialize import init_repository
from tests.builders import write_runbook
from tests.cli.test_run import plan, run_json

pytestmark = pytest.mark.kernel

USER = "runbook-kernel-test"
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
KERNEL = "python-shared"

PROBE = """\
import json, os
def read(path):
    try:
        with open(path, "rb") as file:
            return len(file.read()) > 0
    except OSError as error:
        return error.strerror
print(json.dumps({
    "uid": os.getuid(),
    "gid": os.getgid(),
    "groups": sorted(os.getgroups()),
    "parent_environ": read(f"/proc/{os.getppid()}/environ"),
    "store": read(os.path.join(os.environ["RUNBOOK_REPO"], ".runbook", "runbook.db")),
    "home": os.environ.get("HOME"),
}))
"""


@pytest.fixture(scope="module")
def account() -> Iterator[pwd.struct_passwd]:
    """The kernel user, created for these tests when the machine does not have it."""
    if os.geteuid() != 0:
        pytest.skip("starting a kernel as another user needs root")
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
        )
        created = True
    yield pwd.getpwnam(USER)
    if created:
        subprocess.run(["userdel", USER], check=True)


@pytest.fixture(scope="module")
def shared() -> Iterator[Path]:
    """A folder everyone can read: a kernel's packages, a kernelspec, the repositories."""
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"{SYSTEM_PYTHON} is not installed")
    folder = Path(tempfile.mkdtemp(prefix="runbook-kernel-user-"))
    folder.chmod(0o755)
    site = folder / "site-packages"
    for name in _requirements("ipykernel"):
        _copy_distribution(name, site)
    spec = folder / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(SYSTEM_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (shared)",
                "language": "python",
                "env": {"PYTHONPATH": str(site)},
            }
        )
    )
    yield folder
    shutil.rmtree(folder)


def _requirements(name: str) -> set[str]:
    """``name`` and every distribution it needs on this platform."""
    found: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        try:
            distribution = importlib.metadata.distribution(current)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement of another platform
        key = distribution.metadata["Name"].lower().replace("_", "-")
        if key in found:
            continue
        found.add(key)
        for requirement in distribution.requires or []:
            marker = requirement.partition(";")[2]
            if "extra ==" in marker or "win32" in marker or "darwin" in marker:
                continue
            todo.append(re.split(r"[\s<>=!~\[;(]", requirement, maxsplit=1)[0])
    return found


def _copy_distribution(name: str, site: Path) -> None:
    for file in importlib.metadata.distribution(name).files or []:
        if ".." in file.parts:
            continue  # scripts outside site-packages
        target = site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(str(file.locate())), target)


@pytest.fixture
def repo(shared: Path) -> Iterator[Repository]:
    """A repository in the shared folder, whose runbook probes from a cell."""
    root = Path(tempfile.mkdtemp(dir=shared))
    root.chmod(0o755)
    init_repository(root / "ops")
    repository = find_repository(root / "ops")
    path = write_runbook(repository.runbooks_dir / "probe.ipynb", [("code", PROBE, [])])
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"]["name"] = KERNEL
    nbformat.write(notebook, path)
    yield repository
    shutil.rmtree(root)


def _configure(repo: Repository, user: str) -> None:
    with (repo.root / "runbook.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[kernel]\nuser = "{user}"\n')


def _probe(repo: Repository, shared: Path) -> dict[str, object]:
    code, outcome, err = run_json(
        repo,
        plan(repo, "probe"),
        "--yes",
        JUPYTER_PATH=str(shared / "jupyter"),
        RUNBOOK_DB_PASSWORD="hunter2-store-password",
    )
    assert code == 0, (outcome, err)
    notebook = nbformat.read(repo.root / str(outcome["notebook"]), as_version=4)
    (cell,) = notebook.cells
    return dict(json.loads(cell.outputs[0]["text"]))


def test_a_kernel_of_our_own_user_reads_what_a_kernel_user_cannot(
    repo: Repository, shared: Path
) -> None:
    probe = _probe(repo, shared)
    assert probe["uid"] == os.getuid()
    assert probe["parent_environ"] is True
    assert probe["store"] is True


def test_the_kernel_runs_as_the_configured_user_and_reads_none_of_the_runbook_state(
    repo: Repository, shared: Path, account: pwd.struct_passwd
) -> None:
    _configure(repo, USER)
    probe = _probe(repo, shared)
    assert probe["uid"] == account.pw_uid
    assert probe["gid"] == account.pw_gid
    assert probe["groups"] == sorted(os.getgrouplist(USER, account.pw_gid))
    assert probe["parent_environ"] == "Permission denied"
    assert probe["store"] == "Permission denied"
    assert probe["home"] == account.pw_dir
    kernels = repo.state_dir / "kernels"
    assert not kernels.exists() or list(kernels.iterdir()) == []


def test_a_user_the_machine_does_not_have_fails_the_run_with_one_line(
    repo: Repository, shared: Path
) -> None:
    _configure(repo, "no-such-runbook-user")
    code, outcome, err = run_json(
        repo, plan(repo, "probe"), "--yes", JUPYTER_PATH=str(shared / "jupyter")
    )
    assert code == 1 and outcome["state"] == "failed", err
    assert outcome["message"] == (
        "the kernel could not start: runbook.toml: kernel.user: "
        "'no-such-runbook-user' is not a user on this machine"
    )


def test_a_kernel_the_user_cannot_execute_fails_the_run_naming_the_program(
    repo: Repository, shared: Path, account: pwd.struct_passwd
) -> None:
    private = Path(tempfile.mkdtemp(dir=shared))  # 0700: closed to the kernel user
    program = private / "python"
    program.symlink_to(SYSTEM_PYTHON)
    spec = Path(tempfile.mkdtemp(dir=shared)) / "kernels" / KERNEL
    spec.mkdir(parents=True)
    kernel = json.loads((shared / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    (spec / "kernel.json").write_text(
        json.dumps({**kernel, "argv": [str(program), *kernel["argv"][1:]]})
    )
    _configure(repo, USER)
    code, outcome, err = run_json(
        repo, plan(repo, "probe"), "--yes", JUPYTER_PATH=str(spec.parent.parent)
    )
    assert code == 1 and outcome["state"] == "failed", err
    message = str(outcome["message"])
    assert f"cannot start as '{USER}': {program}: Permission denied" in message
    assert "Traceback" not in err


def test_kernel_user_must_be_text(repo: Repository) -> None:
    with (repo.root / "runbook.toml").open("a", encoding="utf-8") as config:
        config.write("\n[kernel]\nuser = 999\n")
    code, _, err = run_json(repo, "no-such-plan")
    assert code == 1
    assert (
        err
        == f"runbook: error: {repo.root}/runbook.toml: kernel.user: must be the name of a user\n"
    )
