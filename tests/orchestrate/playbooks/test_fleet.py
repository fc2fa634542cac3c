"""The fleet runner with real processes: batches, failures, drift, frozen copies, locks, cancel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import (
    FailureError,
    ParameterError,
    RunRefusedError,
    SpecError,
    TargetLockedError,
    UsageError,
)
from runbook.model.audit import EventKind, playbook_subject
from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import (
    PlaybookDefinition,
    PlaybookRun,
    PlaybookRunState,
    TargetRecord,
)
from runbook.model.repository import Repository
from runbook.model.run import RunState
from runbook.orchestrate.playbooks.fleet import (
    PlaybookRequest,
    bind_playbook_parameters,
    cancel_playbook,
    retry_playbook,
    start_playbook,
)
from runbook.orchestrate.playbooks.fleet_runner import FleetListener
from runbook.orchestrate.playbooks.playbook_history import playbook_status, sweep_playbooks
from runbook.orchestrate.playbooks.playbook_import import git_state, import_playbook
from runbook.store.audit import list_events
from runbook.store.db import ensure_schema, make_engine
from runbook.store.playbooks.playbook_definitions import (
    get_definition,
)
from runbook.store.playbooks.playbook_runs import (
    create_playbook_run,
    get_playbook_run,
    list_targets,
)
from runbook.store.runs import get_run
from tests.builders import write_runbook
from tests.locks import locked_targets


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def playbook(
    name: str = "web",
    *,
    targets: list[str] | None = None,
    inventory: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] | None = None,
    **strategy: Any,
) -> dict[str, Any]:
    names = targets if targets is not None else [f"web{i}" for i in range(1, 7)]
    return {
        "name": name,
        "version": "1.0",
        "inventory": inventory or {"targets": [{"name": n} for n in names]},
        "steps": steps or [{"name": "ok", "shell": "true"}],
        "strategy": {"concurrency": 1, **strategy},
    }


def imported(
    sessions: sessionmaker[Session], repo: Repository, document: dict[str, Any]
) -> PlaybookDefinition:
    path = repo.root / "playbooks" / f"{document['name']}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with sessions.begin() as session:
        return import_playbook(session, repo, repo.relative(path), imported_by="alice").definition


def run_playbook(
    sessions: sessionmaker[Session],
    repo: Repository,
    document: dict[str, Any],
    listener: FleetListener | None = None,
    **params: Any,
) -> tuple[PlaybookRun, dict[str, TargetRecord]]:
    definition = imported(sessions, repo, document)
    request = PlaybookRequest(definition, "alice", params, listener=listener)
    run = start_playbook(sessions, repo, request)
    return run, records(sessions, run.id)


def records(sessions: sessionmaker[Session], run_id: str) -> dict[str, TargetRecord]:
    with sessions.begin() as session:
        return {t.name: t for t in list_targets(session, run_id)}


def states(found: dict[str, TargetRecord]) -> dict[str, str]:
    return {name: record.state.value for name, record in found.items()}


class Events(FleetListener):
    """Calls ``on_change`` with every record, from the runner's thread."""

    def __init__(self, on_change: Callable[[TargetRecord], None] | None = None) -> None:
        self.started = threading.Event()
        self.run_id = ""
        self.on_change = on_change

    def run_started(self, run: PlaybookRun, targets: list[TargetRecord]) -> None:
        self.run_id = run.id
        self.started.set()

    def target_changed(self, record: TargetRecord) -> None:
        if self.on_change is not None:
            self.on_change(record)


# --- batches ----------------------------------------------------------------------------------


def test_canary_then_ten_percent_then_the_rest_in_order(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    names = [f"web{i:02d}" for i in range(1, 21)]
    step = {
        "name": "note",
        # The count of steps running at once, seen by each step: never above concurrency.
        "shell": "mkdir -p busy && touch busy/{{ target.name }} && ls busy | wc -l >> seen && "
        "echo {{ target.name }} >> order && sleep 0.05 && rm busy/{{ target.name }}",
    }
    document = playbook(targets=names, steps=[step], batch_size=[1, "10%", "100%"], concurrency=4)
    run, found = run_playbook(sessions, repo, document)
    assert run.state is PlaybookRunState.SUCCEEDED
    assert run.finish_ts is not None
    batches = {name: record.batch for name, record in found.items()}
    # 20 targets: 1, then 10% = 2, then the remaining 17.
    assert batches == {n: 1 if i == 0 else 2 if i < 3 else 3 for i, n in enumerate(names)}
    by_start = sorted(found.values(), key=lambda r: r.start_seq or 0)
    assert [r.batch for r in by_start] == sorted(r.batch or 0 for r in by_start)
    assert [r.name for r in by_start][:3] == names[:3]
    order = (repo.root / "order").read_text().split()
    # Batches in order; within a batch, steps run side by side and end in any order.
    assert order[0] == names[0] and sorted(order[1:3]) == names[1:3]
    assert sorted(order[3:]) == names[3:]
    assert max(int(n) for n in (repo.root / "seen").read_text().split()) <= 4
    assert all(r.finish_ts is not None and r.started_at is not None for r in found.values())
    with sessions.begin() as session:
        assert locked_targets(session, run.id) == []
        kinds = [e.kind for e in list_events(session) if e.subject == playbook_subject(run.id)]
    assert kinds == [EventKind.PLAYBOOK_RUN_STARTED, EventKind.PLAYBOOK_RUN_FINISHED]


def test_a_count_batch_size_repeats(sessions: sessionmaker[Session], repo: Repository) -> None:
    run, found = run_playbook(sessions, repo, playbook(batch_size=4))
    assert [r.batch for r in found.values()] == [1, 1, 1, 1, 2, 2]
    assert run.message == "6 SUCCEEDED"


def test_an_empty_inventory_is_a_run_with_nothing_to_do(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    (repo.root / "hosts.json").write_text("[]")
    run, found = run_playbook(sessions, repo, playbook(inventory={"file": "hosts.json"}))
    assert (run.state, run.message, found) == (
        PlaybookRunState.SUCCEEDED,
        "no targets: the inventory is empty",
        {},
    )


# --- failures ---------------------------------------------------------------------------------

FAILING = {"name": "check", "shell": "test ! -e fail-{{ target.name }}"}


def fail(repo: Repository, *names: str) -> None:
    for name in names:
        (repo.root / f"fail-{name}").touch()


def test_max_failures_1_stops_at_the_second_failure(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    fail(repo, "web2", "web4", "web5")
    run, found = run_playbook(sessions, repo, playbook(steps=[FAILING], max_failures=1))
    assert states(found) == {
        "web1": "SUCCEEDED",
        "web2": "FAILED",
        "web3": "SUCCEEDED",
        "web4": "FAILED",
        "web5": "SKIPPED",
        "web6": "SKIPPED",
    }
    assert run.state is PlaybookRunState.FAILED
    assert run.message is not None and "more than max_failures (1)" in run.message
    assert found["web5"].finish_ts is not None and found["web5"].start_seq is None
    assert "max_failures" in (found["web6"].message or "")


def test_max_failures_percent_is_of_the_targets_at_start(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    # 20% of 6 targets rounds down to 1: the second failure stops the run, as above.
    fail(repo, "web1", "web2", "web3")
    _, found = run_playbook(sessions, repo, playbook(steps=[FAILING], max_failures="20%"))
    assert [r.state.value for r in found.values()] == ["FAILED", "FAILED"] + ["SKIPPED"] * 4


def test_running_targets_finish_when_the_run_stops(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    # Three start at once; the first failure stops new starts, the other two still finish.
    fail(repo, *[f"web{i}" for i in range(1, 7)])
    _, found = run_playbook(sessions, repo, playbook(steps=[FAILING], concurrency=3))
    assert [r.state.value for r in found.values()] == ["FAILED"] * 3 + ["SKIPPED"] * 3


def test_failures_below_the_limit_and_the_next_batches_go_on(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    fail(repo, "web1")
    run, found = run_playbook(
        sessions, repo, playbook(steps=[FAILING], max_failures=1, batch_size=[1, "100%"])
    )
    assert run.state is PlaybookRunState.FAILED
    assert states(found)["web1"] == "FAILED"
    assert {r.state for r in found.values() if r.name != "web1"} == {TargetState.SUCCEEDED}
    assert found["web1"].message == "step check: exited with 1"


def test_on_failure_stop_continue_and_rollback(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    steps = [
        {
            "name": "one",
            "shell": "touch {{ target.name }}.one",
            "rollback": "rm {{ target.name }}.one",
        },
        {
            "name": "two",
            "shell": "test ! -e fail-{{ target.name }}",
            "rollback": "touch {{ target.name }}.undo-two",
        },
        {"name": "three", "shell": "touch {{ target.name }}.three"},
    ]
    fail(repo, "web1")
    for on_failure, exists in (
        ("stop", {"web1.one"}),
        ("continue", {"web1.one", "web1.three"}),
        ("rollback", {"web1.undo-two"}),
    ):
        for leftover in repo.root.glob("web1.*"):
            leftover.unlink()
        document = playbook(targets=["web1"], steps=steps, on_failure=on_failure)
        _, found = run_playbook(sessions, repo, document)
        assert {p.name for p in repo.root.glob("web1.*")} == exists, on_failure
        assert found["web1"].state is TargetState.FAILED
    results = found["web1"].results
    assert [(r["step"], r.get("phase"), r["status"]) for r in results] == [
        ("one", None, "succeeded"),
        ("two", None, "failed"),
        ("two", "rollback", "succeeded"),
        ("one", "rollback", "succeeded"),
    ]
    assert found["web1"].message == "step two: exited with 1; rolled back"


def test_timeouts_and_missing_variables_fail_the_target_alone(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    (repo.root / "hosts.json").write_text(
        json.dumps([{"name": "web1", "vars": {"port": 80}}, {"name": "web2"}])
    )
    steps: list[dict[str, Any]] = [
        {"name": "port", "shell": "echo {{ target.port }}"},
        {"name": "slow", "shell": "test {{ target.name }} != web1 || sleep 30", "timeout": 0.5},
    ]
    document = playbook(inventory={"file": "hosts.json"}, steps=steps, max_failures=5)
    _, found = run_playbook(sessions, repo, document)
    assert found["web1"].message == "step slow: timed out after 0.5 s"
    assert found["web1"].results[0]["output"] == "80\n"
    assert found["web2"].message is not None
    assert "target 'web2' has no variable 'port'" in found["web2"].message


def test_shell_steps_see_the_target_and_not_the_store_credentials(
    sessions: sessionmaker[Session], repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_DB_PASSWORD", "hunter2")
    step = {"shell": 'echo "$RUNBOOK_TARGET $RUNBOOK_TARGET_ADDRESS ${RUNBOOK_DB_PASSWORD:-none}"'}
    document = playbook(inventory={"targets": [{"name": "web1", "address": "10.0.0.1"}]})
    document["steps"] = [step]
    _, found = run_playbook(sessions, repo, document)
    assert found["web1"].results[0]["output"] == "web1 10.0.0.1 none\n"


def test_without_pidfds_exits_are_polled(
    sessions: sessionmaker[Session], repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "pidfd_open")
    fail(repo, "web2")
    step = {"shell": "echo out-{{ target.name }}; test ! -e fail-{{ target.name }}"}
    _, found = run_playbook(sessions, repo, playbook(steps=[step], max_failures=5, concurrency=3))
    assert states(found)["web2"] == "FAILED"
    assert [r.results[0]["output"] for r in found.values()][:2] == ["out-web1\n", "out-web2\n"]


# --- drift ------------------------------------------------------------------------------------


def write_hosts(path: Path, *names: str) -> None:
    path.write_text(json.dumps({"targets": [{"name": n} for n in names]}))


@pytest.mark.parametrize("added_targets", ["later", "ignore"])
def test_targets_added_and_removed_during_the_run(
    sessions: sessionmaker[Session], repo: Repository, added_targets: str
) -> None:
    hosts = repo.root / "hosts.json"
    write_hosts(hosts, "web1", "web2", "web3", "web4")
    write_hosts(repo.root / "after-web1.json", "web1", "web2", "web4", "web5", "web6")
    write_hosts(repo.root / "after-web2.json", "web2", "web4", "web5", "web6")
    # The first batch's step changes the inventory: web3 goes, web5 and web6 come; then the
    # second batch's web2 takes web1 (already done) out.
    after = "after-{{ target.name }}.json"
    step = {"shell": f"test ! -e {after} || cp {after} hosts.json"}
    document = playbook(
        inventory={"file": "hosts.json"},
        steps=[step],
        batch_size=[1, "100%"],
        added_targets=added_targets,
    )
    run, found = run_playbook(sessions, repo, document)
    assert run.state is PlaybookRunState.SUCCEEDED
    flags = {n: (r.state.value, r.added, r.removed, r.batch) for n, r in found.items()}
    later = added_targets == "later"
    assert flags == {
        "web1": ("SUCCEEDED", False, True, 1),
        "web2": ("SUCCEEDED", False, False, 2),
        "web3": ("REMOVED", False, True, 2),
        "web4": ("SUCCEEDED", False, False, 2),
        "web5": ("SUCCEEDED" if later else "ADDED", True, False, 3 if later else None),
        "web6": ("SUCCEEDED" if later else "ADDED", True, False, 3 if later else None),
    }
    assert [r.name for r in sorted(found.values(), key=lambda r: r.position)][-2:] == [
        "web5",
        "web6",
    ]
    assert all(r.finish_ts is not None for r in found.values())
    assert found["web3"].start_seq is None


def test_an_unreadable_inventory_mid_run_is_a_warning(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    hosts = repo.root / "hosts.json"
    write_hosts(hosts, "web1", "web2")
    step = {"shell": "test {{ target.name }} != web1 || echo '[broken' > hosts.json"}
    document = playbook(inventory={"file": "hosts.json"}, steps=[step], batch_size=1)
    run, found = run_playbook(sessions, repo, document)
    assert states(found) == {"web1": "SUCCEEDED", "web2": "SUCCEEDED"}
    assert run.message is not None and "could not be read again" in run.message


# --- frozen definition, retry -------------------------------------------------------------------


def test_reimporting_during_a_run_leaves_its_frozen_copy_alone(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    document = playbook(batch_size=[1, "100%"])
    changed = playbook(batch_size=[1, "100%"], steps=[{"name": "ok", "shell": "false"}])
    changed["version"] = "2.0"

    def reimport(record: TargetRecord) -> None:
        if record.name == "web1" and record.state is TargetState.SUCCEEDED:
            imported(sessions, repo, changed)

    run, found = run_playbook(sessions, repo, document, Events(reimport))
    with sessions.begin() as session:
        newest = get_definition(session, "web")
        frozen = get_playbook_run(session, run.id)
    assert (newest.revision, newest.version) == (2, "2.0")
    assert (frozen.revision, frozen.version) == (1, "1.0")
    assert frozen.definition["steps"][0]["shell"] == "true"
    assert run.state is PlaybookRunState.SUCCEEDED  # later batches ran the frozen `true`
    assert set(states(found).values()) == {"SUCCEEDED"}


def test_retry_runs_only_the_failed_targets_with_the_frozen_copy(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    fail(repo, "web2", "web5")
    document = playbook(steps=[FAILING], max_failures=10)
    first, found = run_playbook(sessions, repo, document)
    assert [n for n, r in found.items() if r.state is TargetState.FAILED] == ["web2", "web5"]
    # A newer import that would fail everything is not what a retry runs.
    broken = playbook(steps=[{"name": "check", "shell": "false"}])
    broken["version"] = "2.0"
    imported(sessions, repo, broken)
    for marker in repo.root.glob("fail-*"):
        marker.unlink()
    second = retry_playbook(sessions, repo, first.id, "bob")
    retried = records(sessions, second.id)
    assert states(retried) == {"web2": "SUCCEEDED", "web5": "SUCCEEDED"}
    assert (second.retry_of, second.revision, second.started_by) == (first.id, 1, "bob")
    assert second.state is PlaybookRunState.SUCCEEDED
    with pytest.raises(UsageError, match="has no FAILED target"):
        retry_playbook(sessions, repo, second.id, "bob")


# --- locks, cancel, sweep -----------------------------------------------------------------------

BLOCKING = {"name": "wait", "shell": "while [ ! -e go ]; do sleep 0.02; done"}


def in_background(
    sessions: sessionmaker[Session], repo: Repository, document: dict[str, Any], events: Events
) -> tuple[threading.Thread, list[PlaybookRun]]:
    definition = imported(sessions, repo, document)
    done: list[PlaybookRun] = []

    def work() -> None:
        request = PlaybookRequest(definition, "alice", {}, listener=events)
        done.append(start_playbook(sessions, repo, request))

    thread = threading.Thread(target=work)
    thread.start()
    assert events.started.wait()
    return thread, done


def test_a_target_in_use_refuses_a_second_run(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    events = Events()
    thread, done = in_background(sessions, repo, playbook(steps=[BLOCKING]), events)
    other = playbook("db", targets=["db1", "web3"])
    with pytest.raises(RunRefusedError) as refused:
        run_playbook(sessions, repo, other)
    locked = refused.value.cause
    assert isinstance(locked, TargetLockedError)
    assert (locked.target, locked.holder) == ("web3", events.run_id)
    (repo.root / "go").touch()
    thread.join()
    assert done[0].state is PlaybookRunState.SUCCEEDED
    run, _ = run_playbook(sessions, repo, other)  # the locks went with the first run
    assert run.state is PlaybookRunState.SUCCEEDED
    unlocked = playbook("free", targets=["web1"])
    unlocked["lock"] = False
    assert imported(sessions, repo, unlocked).definition["lock"] is False


@pytest.mark.parametrize("interrupt", [False, True])
def test_cancel(sessions: sessionmaker[Session], repo: Repository, interrupt: bool) -> None:
    two_running = threading.Event()
    running: set[str] = set()

    def watch(record: TargetRecord) -> None:
        if record.state is TargetState.RUNNING:
            running.add(record.name)
            if len(running) == 2:
                two_running.set()

    events = Events(watch)
    thread, done = in_background(sessions, repo, playbook(steps=[BLOCKING], concurrency=2), events)
    assert two_running.wait()
    with sessions.begin() as session:
        cancel_playbook(session, events.run_id, interrupt=interrupt, by="bob")
    if not interrupt:
        # Nothing new starts; the two running ones finish once they may.
        while not records(sessions, events.run_id)["web3"].state.finished:
            threading.Event().wait(0.05)
        (repo.root / "go").touch()
    thread.join()
    run = done[0]
    found = records(sessions, run.id)
    ended = "CANCELLED" if interrupt else "SUCCEEDED"
    assert states(found) == {"web1": ended, "web2": ended} | {
        f"web{i}": "CANCELLED" for i in range(3, 7)
    }
    assert run.state is PlaybookRunState.CANCELLED
    assert (run.cancel_requested_by, run.cancel_mode and run.cancel_mode.value) == (
        "bob",
        "interrupt" if interrupt else "finish",
    )
    if interrupt:
        assert found["web1"].results[0]["status"] == "cancelled"
    with sessions.begin() as session, pytest.raises(FailureError, match="already ended"):
        cancel_playbook(session, run.id, interrupt=False, by="bob")


def test_a_dead_run_is_swept_interrupted_and_its_targets_freed(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    definition = imported(sessions, repo, playbook())
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = PlaybookRun(
        id="pb-dead",
        playbook="web",
        revision=1,
        version="1.0",
        definition=definition.definition,
        parameters={},
        started_by="alice",
        state=PlaybookRunState.RUNNING,
        started_at=definition.imported_at,
        lease_owner=f"{socket.gethostname()}:{gone.pid}",
    )
    target = TargetRecord("pb-dead", "web1", "web1", {}, TargetState.RUNNING, 1, 1)
    with sessions.begin() as session:
        create_playbook_run(session, run, [target], lock=True)
    with sessions.begin() as session:
        assert sweep_playbooks(session) == ["pb-dead"]
        swept, targets = playbook_status(session, "pb-dead")
        assert locked_targets(session, "pb-dead") == []
    assert swept.state is PlaybookRunState.INTERRUPTED
    assert targets[0].state is TargetState.INTERRUPTED and targets[0].finish_ts is not None
    run_now, _ = run_playbook(sessions, repo, playbook())
    assert run_now.state is PlaybookRunState.SUCCEEDED


# --- parameters, import -------------------------------------------------------------------------


def test_parameters_are_bound_and_rendered(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    step = {"shell": "echo {{ params.reason }}-{{ params.n }}"}
    document = playbook(targets=["web1"], steps=[step])
    document["parameters"] = {"reason": None, "n": 3}
    spec = imported(sessions, repo, document).spec
    with pytest.raises(ParameterError, match="required by playbook web"):
        bind_playbook_parameters(spec, {})
    unknown = r"not a parameter of playbook web \(known: reason, n\)"
    with pytest.raises(ParameterError, match=unknown):
        bind_playbook_parameters(spec, {"reason": "x", "other": 1})
    run, found = run_playbook(sessions, repo, document, reason="it's slow; rm -rf /")
    assert run.parameters == {"reason": "it's slow; rm -rf /", "n": 3}
    assert found["web1"].results[0]["output"] == "it's slow; rm -rf /-3\n"


def test_import_records_git_state(sessions: sessionmaker[Session], repo: Repository) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo.root, check=True, capture_output=True)

    path = repo.root / "playbooks" / "web.yml"
    path.write_text(yaml.safe_dump(playbook()))
    assert git_state(repo.root, path) == (None, True)  # git init, nothing committed yet
    git("add", "playbooks/web.yml")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "playbook")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo.root, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_state(repo.root, path) == (head, False)
    with sessions.begin() as session:
        result = import_playbook(session, repo, "playbooks/web.yml", imported_by="alice")
    assert (result.definition.git_commit, result.definition.dirty) == (head, False)
    path.write_text(yaml.safe_dump(playbook(batch_size=2)))
    assert git_state(repo.root, path) == (head, True)
    outside = repo.root.parent / "elsewhere"
    outside.mkdir()
    assert git_state(outside, outside / "x.yml") == (None, None)


def test_import_errors_name_the_file_and_the_place(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    bad = repo.root / "playbooks" / "bad.yml"
    bad.write_text("name: web\nversion: 1\ninventory: {targets: []}\nsteps: []\n")
    with sessions.begin() as session, pytest.raises(SpecError) as caught:
        import_playbook(session, repo, "playbooks/bad.yml", imported_by="alice")
    assert str(caught.value).startswith("playbooks/bad.yml: inventory.targets: ")
    assert "(and 1 more; see `runbook playbook validate playbooks/bad.yml`)" in str(caught.value)
    with sessions.begin() as session, pytest.raises(UsageError, match="cannot read"):
        import_playbook(session, repo, "playbooks/none.yml", imported_by="alice")
    with sessions.begin() as session, pytest.raises(UsageError, match="outside the repository"):
        import_playbook(session, repo, os.devnull, imported_by="alice")


# --- runbook steps, on real kernels -------------------------------------------------------------


def touch_runbook(repo: Repository) -> None:
    write_runbook(
        repo.root / "runbooks" / "touch.ipynb",
        [
            ("code", "host = 'localhost'\ncount = 1", ["parameters"]),
            (
                "code",
                "from pathlib import Path\nassert isinstance(count, int)\n"
                "Path(f'{host}.touched').write_text(str(count))",
                [],
            ),
            ("code", "Path(f'{host}.confirmed').touch()", ["confirm"]),
            ("code", "assert host != '10.0.0.2', 'web2 is broken'", []),
            ("code", "Path(f'{host}.rolled-back').touch()", ["rollback"]),
            ("code", "import time\nwhile not Path('go').exists():\n    time.sleep(0.02)", []),
        ],
        parameters={
            "host": {"type": "str", "required": True},
            "count": {"type": "int", "default": 1},
        },
    )


def runbook_playbook(**strategy: Any) -> dict[str, Any]:
    document = playbook(
        inventory={
            "targets": [
                {"name": "web1", "address": "10.0.0.1", "vars": {"count": "2"}},
                {"name": "web2", "address": "10.0.0.2", "vars": {"count": "2"}},
            ]
        },
        concurrency=2,
        max_failures=2,
        **strategy,
    )
    # "2" is text in the inventory: the runbook's declared int type coerces it when planning.
    parameters = {"host": "{{ target.address }}", "count": "{{ target.vars.count }}"}
    step = {"name": "touch", "runbook": "runbooks/touch.ipynb", "parameters": parameters}
    document["steps"] = [step]
    return document


@pytest.mark.kernel
def test_runbook_steps_plan_and_run_per_target(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    touch_runbook(repo)
    (repo.runbooks_dir / "go").touch()
    definition = imported(sessions, repo, runbook_playbook(on_failure="rollback"))
    # Without --yes the confirm cell stops each target's run: both fail, nothing confirmed.
    run = start_playbook(sessions, repo, PlaybookRequest(definition, "alice", {}))
    found = records(sessions, run.id)
    assert states(found) == {"web1": "FAILED", "web2": "FAILED"}
    assert "needs an explicit yes" in (found["web1"].message or "")
    assert (repo.runbooks_dir / "10.0.0.1.touched").read_text() == "2"
    assert not list(repo.runbooks_dir.glob("*.confirmed"))
    # With --yes: web1 succeeds; web2's failing cell makes the engine run its rollback cells.
    run = start_playbook(sessions, repo, PlaybookRequest(definition, "alice", {}, yes=True))
    found = records(sessions, run.id)
    assert states(found) == {"web1": "SUCCEEDED", "web2": "FAILED"}
    confirmed = {p.name for p in repo.runbooks_dir.glob("*.confirmed")}
    assert confirmed == {"10.0.0.1.confirmed", "10.0.0.2.confirmed"}
    assert [p.name for p in repo.runbooks_dir.glob("*.rolled-back")] == ["10.0.0.2.rolled-back"]
    step, undo = found["web2"].results
    assert (step["status"], step["state"], undo["phase"], undo["status"]) == (
        "failed",
        "rolled_back",
        "rollback",
        "succeeded",
    )
    with sessions.begin() as session:
        executed = get_run(session, found["web1"].results[0]["run"])
    assert executed.state is RunState.SUCCEEDED
    assert executed.plan_id == found["web1"].results[0]["plan"]


@pytest.mark.kernel
def test_cancel_interrupt_stops_a_runbook_step(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    touch_runbook(repo)
    document = runbook_playbook()
    document["inventory"]["targets"] = document["inventory"]["targets"][:1]
    waiting = threading.Event()

    def watch(record: TargetRecord) -> None:
        if (
            repo.runbooks_dir / "10.0.0.1.confirmed"
        ).exists() and record.state is TargetState.RUNNING:
            waiting.set()

    events = Events(watch)
    definition = imported(sessions, repo, document)
    done: list[PlaybookRun] = []
    request = PlaybookRequest(definition, "alice", {}, yes=True, listener=events)
    thread = threading.Thread(target=lambda: done.append(start_playbook(sessions, repo, request)))
    thread.start()
    # The last cell waits for a file that never comes: only the interrupt can end it.
    while not (repo.runbooks_dir / "10.0.0.1.confirmed").exists():
        assert thread.is_alive()
        threading.Event().wait(0.05)
    with sessions.begin() as session:
        cancel_playbook(session, events.run_id, interrupt=True, by="bob")
    thread.join()
    found = records(sessions, done[0].id)
    assert found["web1"].state is TargetState.CANCELLED
    assert found["web1"].results[0]["status"] == "cancelled"
    assert done[0].state is PlaybookRunState.CANCELLED
