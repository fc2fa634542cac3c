"""`runbook playbook`: import, list, show, versions, run, status, retry, cancel, exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.model.playbooks.playbook_run import PlaybookRun, TargetRecord
from runbook.model.repository import Repository
from runbook.orchestrate.playbooks.fleet import PlaybookRequest, start_playbook
from runbook.orchestrate.playbooks.fleet_runner import FleetListener
from runbook.store.db import ensure_schema, make_engine
from runbook.store.playbooks.playbook_definitions import get_definition
from tests.cli.process import RUNBOOK, runbook
from tests.conftest import Result

Cli = Callable[..., Result]

BLOCKING = "while [ ! -e go ]; do sleep 0.02; done"


def write(repo: Repository, name: str = "web", **changes: Any) -> str:
    document: dict[str, Any] = {
        "name": name,
        "version": "1.0",
        "parameters": {"reason": "routine"},
        "inventory": {"targets": [{"name": f"{name}{i}"} for i in range(1, 5)]},
        "steps": [{"name": "check", "shell": "test ! -e fail-{{ target.name }}"}],
        "strategy": {"batch_size": [1, "100%"], "max_failures": 3, "concurrency": 2},
    }
    document.update(changes)
    path = f"playbooks/{name}.yml"
    (repo.root / path).write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def test_import_list_show_versions(run_cli: Cli, repo: Repository) -> None:
    path = write(repo)
    first = run_cli("playbook", "import", path)
    assert first.code == 0, first.err
    assert first.out.startswith("web: imported as revision 1 (version 1.0, commit none (dirty))")
    again = run_cli("playbook", "import", path, "--json")
    assert json.loads(again.out)["created"] is False
    assert run_cli("playbook", "import", path).out.startswith("web: unchanged: identical to")
    write(repo, version="1.1")
    assert run_cli("playbook", "import", path).out.startswith("web: imported as revision 2")
    listed = json.loads(run_cli("playbook", "list", "--json").out)
    assert [(d["name"], d["revision"], d["version"]) for d in listed] == [("web", 2, "1.1")]
    versions = json.loads(run_cli("playbook", "versions", "web", "--json").out)
    assert [v["revision"] for v in versions] == [2, 1]
    assert versions[0]["imported_by"] and versions[0]["source"] == path
    shown = json.loads(run_cli("playbook", "show", "web", "--version", "1.0", "--json").out)
    assert shown["revision"] == 1 and shown["definition"]["version"] == "1.0"
    text = run_cli("playbook", "show", "web")
    assert "revision 2, version 1.1" in text.out and "batch_size:" in text.out
    missing = run_cli("playbook", "show", "web", "--version", "9")
    assert missing.code == 2 and missing.err.count("\n") == 1
    assert "no version '9'; imported: 1.1, 1.0" in missing.err
    assert run_cli("playbook", "versions", "nope").code == 2


def test_bad_yaml_is_exit_1_with_the_path(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "playbooks" / "bad.yml").write_text("name: web\nsteps: [unclosed\n")
    result = run_cli("playbook", "import", "playbooks/bad.yml")
    assert result.code == 1
    assert result.err.startswith("runbook: error: playbooks/bad.yml:3:1: invalid YAML")
    assert result.err.count("\n") == 1
    write(repo, steps=[{"shell": "echo {{ target.nope.x }}"}], strategy={"concurrency": 0})
    invalid = run_cli("playbook", "import", "playbooks/web.yml")
    assert invalid.code == 1 and invalid.err.count("\n") == 1
    assert "playbooks/web.yml: steps[0].shell: " in invalid.err and "(and 1 more" in invalid.err
    listed = run_cli("playbook", "validate", "playbooks/web.yml")
    assert listed.code == 1 and len(listed.out.splitlines()) == 2
    assert run_cli("playbook", "import", "playbooks/none.yml").code == 2


def test_run_exit_codes_and_json(run_cli: Cli, repo: Repository) -> None:
    run_cli("playbook", "import", write(repo))
    ok = run_cli("playbook", "run", "web")
    assert ok.code == 0, ok.err
    assert "succeeded (4 SUCCEEDED)" in ok.out
    # Without a terminal: one line per target as it ends, on stderr.
    assert "web1: SUCCEEDED" in ok.err and "4 targets in 2 batches" in ok.err
    (repo.root / "fail-web3").touch()
    failed = run_cli("playbook", "run", "web", "--json", "-p", "reason", "patch Tuesday")
    assert failed.code == 1
    document = json.loads(failed.out)
    assert document["state"] == "failed" and document["parameters"] == {"reason": "patch Tuesday"}
    assert [(t["name"], t["state"], t["batch"]) for t in document["targets"]] == [
        ("web1", "SUCCEEDED", 1),
        ("web2", "SUCCEEDED", 2),
        ("web3", "FAILED", 2),
        ("web4", "SUCCEEDED", 2),
    ]
    assert failed.err == ""
    unknown = run_cli("playbook", "run", "web", "-p", "colour", "red")
    assert unknown.code == 2 and "not a parameter of playbook web" in unknown.err
    assert run_cli("playbook", "run", "web", "-p", "reason").code == 2
    (repo.root / "fail-web3").unlink()
    dated = run_cli("playbook", "run", "web", "--json", "-p", "reason", "2024-01-01")
    assert json.loads(dated.out)["parameters"] == {"reason": "2024-01-01"}  # text, as typed
    assert run_cli("playbook", "run", "nope").code == 2


def test_status_and_retry_of_the_failed(run_cli: Cli, repo: Repository) -> None:
    run_cli("playbook", "import", write(repo))
    (repo.root / "fail-web2").touch()
    (repo.root / "fail-web4").touch()
    first = json.loads(run_cli("playbook", "run", "web", "--json").out)
    status = run_cli("playbook", "status", first["id"])
    assert status.code == 0
    assert "2 SUCCEEDED, 2 FAILED" in status.out and "step check: exited with 1" in status.out
    watched = run_cli("playbook", "status", first["id"], "--watch", "--json")
    assert watched.code == 1  # the run's exit code once it has ended
    assert json.loads(watched.out)["finish_ts"] is not None
    for marker in repo.root.glob("fail-*"):
        marker.unlink()
    assert run_cli("playbook", "retry", first["id"]).code == 2  # --failed is required
    retried = run_cli("playbook", "retry", first["id"], "--failed", "--json")
    assert retried.code == 0, retried.err
    second = json.loads(retried.out)
    assert second["retry_of"] == first["id"]
    assert [(t["name"], t["state"]) for t in second["targets"]] == [
        ("web2", "SUCCEEDED"),
        ("web4", "SUCCEEDED"),
    ]
    runs = json.loads(run_cli("playbook", "runs", "web", "--json").out)
    assert [r["id"] for r in runs] == [second["id"], first["id"]]
    assert run_cli("playbook", "status", "pb-nope").code == 2


def in_background(
    sessions: sessionmaker[Session], repo: Repository, name: str
) -> tuple[threading.Thread, list[PlaybookRun], str]:
    started = threading.Event()
    run_ids: list[str] = []

    class Listener(FleetListener):
        def run_started(self, run: PlaybookRun, targets: list[TargetRecord]) -> None:
            run_ids.append(run.id)
            started.set()

    with sessions.begin() as session:
        definition = get_definition(session, name)
    done: list[PlaybookRun] = []
    request = PlaybookRequest(definition, "alice", {}, listener=Listener())
    thread = threading.Thread(target=lambda: done.append(start_playbook(sessions, repo, request)))
    thread.start()
    assert started.wait()
    return thread, done, run_ids[0]


def test_a_target_in_use_is_refused_with_exit_4(
    run_cli: Cli, repo: Repository, sessions: sessionmaker[Session]
) -> None:
    run_cli("playbook", "import", write(repo, steps=[{"shell": BLOCKING}]))
    shared = {"targets": [{"name": "db1"}, {"name": "web2"}]}
    run_cli("playbook", "import", write(repo, "db", inventory=shared))
    thread, done, holder = in_background(sessions, repo, "web")
    refused = run_cli("playbook", "run", "db")
    assert refused.code == 4
    assert refused.err == (
        f"runbook: error: target web2 is in use by playbook run {holder} (web); wait for it "
        f"to end or cancel it with `runbook playbook cancel {holder}`\n"
    )
    (repo.root / "go").touch()
    thread.join()
    assert done[0].state.value == "succeeded"
    assert run_cli("playbook", "run", "db").code == 0


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ({"name": "WEB1.example."}, "web1.example"),
        ({"name": "primary", "address": "root@[::FFFF:10.0.0.2]:22"}, "10.0.0.2"),
    ],
)
def test_a_target_named_differently_is_still_refused_with_exit_4(
    run_cli: Cli,
    repo: Repository,
    sessions: sessionmaker[Session],
    target: dict[str, str],
    key: str,
) -> None:
    fleet = {"targets": [{"name": "web1", "address": "web1.example"}, {"name": "10.0.0.2"}]}
    run_cli("playbook", "import", write(repo, steps=[{"shell": BLOCKING}], inventory=fleet))
    run_cli("playbook", "import", write(repo, "alias", inventory={"targets": [target]}))
    thread, done, holder = in_background(sessions, repo, "web")
    refused = run_cli("playbook", "run", "alias")
    assert refused.code == 4
    assert refused.err.startswith(
        f"runbook: error: target {target['name']} ({key}) is in use by playbook run {holder}"
    )
    (repo.root / "go").touch()
    thread.join()
    assert done[0].state.value == "succeeded"
    assert run_cli("playbook", "run", "alias").code == 0


def test_cancel_and_watch(run_cli: Cli, repo: Repository, sessions: sessionmaker[Session]) -> None:
    run_cli("playbook", "import", write(repo, steps=[{"shell": BLOCKING}]))
    thread, done, run_id = in_background(sessions, repo, "web")
    cancelled = run_cli("playbook", "cancel", run_id, "--interrupt")
    assert cancelled.code == 0
    assert "cancel requested (interrupting its running targets)" in cancelled.out
    watched = run_cli("playbook", "status", run_id, "--watch")
    assert watched.code == 3
    thread.join()
    assert "4 CANCELLED" in watched.out and "cancel requested (interrupt)" in watched.out
    again = run_cli("playbook", "cancel", run_id)
    assert again.code == 1 and "already ended (cancelled)" in again.err
    assert done[0].state.value == "cancelled"


def test_a_real_process_and_a_terminal(repo: Repository) -> None:
    names = [{"name": f"web{i:02d}"} for i in range(1, 31)]
    write(repo, inventory={"targets": names}, strategy={"batch_size": [1, "10%", "100%"]})
    imported = runbook(repo, "playbook", "import", "playbooks/web.yml")
    assert imported.returncode == 0, imported.stderr
    piped = runbook(repo, "playbook", "run", "web")
    assert piped.returncode == 0 and "Traceback" not in piped.stderr
    assert piped.stdout.startswith("playbook run pb-")
    # At a terminal: the live table and the progress bar, then the summary.
    child = pexpect.spawn(
        RUNBOOK,
        ["playbook", "run", "web"],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )
    child.expect(r"30/30")
    child.expect(r"playbook run pb-\S+: succeeded \(30 SUCCEEDED\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_at_a_terminal_cancels_the_run(repo: Repository) -> None:
    write(repo, steps=[{"shell": BLOCKING}])
    assert runbook(repo, "playbook", "import", "playbooks/web.yml").returncode == 0
    child = pexpect.spawn(
        RUNBOOK,
        ["playbook", "run", "web"],
        cwd=str(repo.root),
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )
    child.expect("RUNNING")
    child.sendintr()
    child.expect(r"cancelled \(4 CANCELLED\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    status = json.loads(runbook(repo, "playbook", "runs", "--json").stdout)[0]
    assert status["state"] == "cancelled"


def live_members(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that are alive (a zombie not yet reaped is not)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


def test_the_sweep_of_a_killed_run_ends_its_shell_steps_processes(repo: Repository) -> None:
    import subprocess

    step = 'echo "$$ $RUNBOOK_PLAYBOOK_RUN" > "step-{{ target.name }}"; sleep 300'
    write(repo, inventory={"targets": [{"name": "web1"}]}, steps=[{"shell": step}])
    assert runbook(repo, "playbook", "import", "playbooks/web.yml").returncode == 0
    process = subprocess.Popen(
        [RUNBOOK, "playbook", "run", "web"],
        cwd=repo.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = repo.root / "step-web1"
    while not marker.exists() or not marker.read_text().endswith("\n"):
        assert process.poll() is None
        time.sleep(0.02)  # until the step has written it: an event, not a deadline
    pgid, run_id = marker.read_text().split()
    process.kill()  # kill -9 of `runbook playbook run` while its step sleeps
    process.wait()
    try:
        swept_by_status(repo, int(pgid), run_id)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pgid), signal.SIGKILL)  # if the sweep did not


def swept_by_status(repo: Repository, pgid: int, run_id: str) -> None:
    assert live_members(pgid), "the step should outlive its runner until the sweep"
    status = runbook(repo, "playbook", "status", run_id, "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert live_members(pgid) == []
    assert shown["state"] == "interrupted"
    assert [t["state"] for t in shown["targets"]] == ["INTERRUPTED"]  # it ran: outcome unknown
    trail = json.loads(runbook(repo, "audit", "log", "--json").stdout)
    (swept,) = [e for e in trail if e["payload"].get("reason") == "lease expired"]
    ended = swept["payload"]["ended_processes"]
    assert {p["pgid"] for p in ended} == {pgid}
    assert any(p["command"] == "sleep 300" and p["target"] == "web1" for p in ended)
