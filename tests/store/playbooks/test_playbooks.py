"""Playbook records on SQLite and PostgreSQL: revisions, runs, targets, locks, sweeps."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from runbook.errors import TargetLockedError, UnknownPlaybookError, UnknownPlaybookRunError
from runbook.model.playbooks.playbook import Target, TargetState, load_playbook, playbook_to_json
from runbook.model.playbooks.playbook_run import (
    CancelMode,
    PlaybookRun,
    PlaybookRunState,
    TargetRecord,
)
from runbook.store.db import session_scope
from runbook.store.playbooks.playbook_definitions import (
    get_definition,
    import_definition,
    list_definitions,
    list_revisions,
    playbook_names,
)
from runbook.store.playbooks.playbook_runs import (
    add_targets,
    cancel_request,
    create_playbook_run,
    finish_playbook_run,
    get_playbook_run,
    list_playbook_runs,
    list_targets,
    playbook_run_ids,
    request_cancel,
    sweep_playbook_runs,
    update_targets,
)
from runbook.store.tables import PlaybookRunRow, PlaybookTargetRow, TargetLockRow
from runbook.store.target_locks import lock_targets
from tests.locks import locked_targets
from tests.store.conftest import T0

WEB = """\
name: web
version: "1.0"
inventory: {targets: [{name: web1}, {name: web2}, {name: web3}]}
steps: [{shell: "true"}]
"""


def definition(text: str = WEB) -> dict[str, Any]:
    return playbook_to_json(load_playbook(text))


def store_definition(session: Session, text: str = WEB, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "definition": definition(text),
        "source": "playbooks/web.yml",
        "git_commit": "c" * 40,
        "dirty": False,
        "imported_by": "alice",
        "now": T0,
    }
    fields.update(changes)
    return import_definition(session, **fields)


def make_run(run_id: str = "pb-1", **changes: Any) -> PlaybookRun:
    fields: dict[str, Any] = {
        "id": run_id,
        "playbook": "web",
        "revision": 1,
        "version": "1.0",
        "definition": definition(),
        "parameters": {"reason": "patch"},
        "started_by": "alice",
        "state": PlaybookRunState.RUNNING,
        "started_at": T0,
        "lease_owner": "host:1",
        "heartbeat_at": T0,
    }
    fields.update(changes)
    return PlaybookRun(**fields)


def records(
    run_id: str, *names: str, addresses: dict[str, str] | None = None
) -> list[TargetRecord]:
    return [
        TargetRecord(
            run_id=run_id,
            name=name,
            address=(addresses or {}).get(name, name),
            vars={"i": i},
            state=TargetState.PENDING,
            position=i,
            batch=1,
        )
        for i, name in enumerate(names)
    ]


def test_imports_make_revisions_and_identical_content_is_unchanged(session: Session) -> None:
    first, created = store_definition(session)
    assert created and first.revision == 1 and first.version == "1.0"
    again, created = store_definition(session, git_commit="d" * 40, dirty=True)
    assert not created and again == first
    changed = WEB.replace("web3", "web4")
    second, created = store_definition(session, changed, git_commit=None, dirty=None)
    assert created and second.revision == 2 and second.git_commit is None
    assert second.dirty is None and second.sha256 != first.sha256
    third, created = store_definition(session, changed.replace('"1.0"', '"1.1"'))
    assert created and (third.revision, third.version) == (3, "1.1")
    # Going back to earlier content is a new revision: history is never rewritten.
    back, created = store_definition(session)
    assert created and back.revision == 4 and back.sha256 == first.sha256
    assert [d.revision for d in list_revisions(session, "web")] == [4, 3, 2, 1]
    assert get_definition(session, "web").revision == 4
    assert get_definition(session, "web", version="1.0").revision == 4
    assert get_definition(session, "web", version="1.1").revision == 3
    assert get_definition(session, "web", revision=2).definition == definition(changed)
    assert get_definition(session, "web").spec == load_playbook(WEB)


def test_unknown_playbooks_and_versions(session: Session) -> None:
    with pytest.raises(UnknownPlaybookError, match="no such playbook"):
        get_definition(session, "nope")
    store_definition(session)
    with pytest.raises(UnknownPlaybookError, match=r"no version '9'; imported: 1.0"):
        get_definition(session, "web", version="9")
    with pytest.raises(UnknownPlaybookError, match="no revision 7; it has 1 to 1"):
        get_definition(session, "web", revision=7)


def test_list_definitions_shows_the_newest_of_each(session: Session) -> None:
    store_definition(session)
    store_definition(session, WEB.replace('"1.0"', '"2.0"'))
    store_definition(session, WEB.replace("name: web", "name: db"))
    assert [(d.name, d.revision, d.version) for d in list_definitions(session)] == [
        ("db", 1, "1.0"),
        ("web", 2, "2.0"),
    ]
    assert playbook_names(session, "w") == ["web"]


def test_run_with_targets_round_trips(session: Session) -> None:
    run = make_run(retry_of="pb-0")
    create_playbook_run(session, run, records(run.id, "web1", "web2"), lock=False)
    assert get_playbook_run(session, run.id) == run
    assert [t.name for t in list_targets(session, run.id)] == ["web1", "web2"]
    assert list_targets(session, run.id)[1].target == Target("web2", "web2", {"i": 1})
    assert locked_targets(session, run.id) == []
    assert playbook_run_ids(session, "pb") == ["pb-1"]
    with pytest.raises(UnknownPlaybookRunError):
        get_playbook_run(session, "pb-2")


def test_update_targets_in_bulk(session: Session) -> None:
    run = make_run()
    create_playbook_run(session, run, records(run.id, "web1", "web2", "web3"), lock=False)
    result = {"step": "s", "status": "succeeded", "output": "ok"}
    update_targets(
        session,
        run.id,
        {
            "web1": {"state": TargetState.RUNNING, "started_at": T0, "start_seq": 1},
            "web2": {"state": TargetState.SUCCEEDED, "finish_ts": T0, "results": [result]},
            "web3": {"state": TargetState.RUNNING, "started_at": T0, "start_seq": 2},
        },
    )
    one, two, three = list_targets(session, run.id)
    assert (one.state, one.started_at, one.start_seq) == (TargetState.RUNNING, T0, 1)
    assert (two.state, two.finish_ts, two.results) == (TargetState.SUCCEEDED, T0, [result])
    assert (three.start_seq, three.finish_ts) == (2, None)


def test_a_locked_target_refuses_the_whole_second_run(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_playbook_run(session, make_run("pb-a"), records("pb-a", "web1", "web2"), lock=True)
    with (
        pytest.raises(TargetLockedError, match="target web2 is in use by playbook run pb-a"),
        session_scope(engine) as session,
    ):
        create_playbook_run(session, make_run("pb-b"), records("pb-b", "web3", "web2"), lock=True)
    with session_scope(engine) as session:
        # Nothing of the refused run remains, and the first run's locks are intact.
        assert [r.id for r in list_playbook_runs(session)] == ["pb-a"]
        assert locked_targets(session, "pb-a") == ["web1", "web2"]
        assert session.scalar(select(func.count()).select_from(TargetLockRow)) == 2
        # Without `lock`, a run may share targets.
        create_playbook_run(session, make_run("pb-c"), records("pb-c", "web2"), lock=False)


def test_finishing_frees_the_locks_and_stamps_every_target(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_playbook_run(session, make_run("pb-a"), records("pb-a", "web1", "web2"), lock=True)
        update_targets(session, "pb-a", {"web1": {"finish_ts": T0}})
        end = T0 + timedelta(minutes=5)
        assert finish_playbook_run(
            session, "pb-a", 1, PlaybookRunState.FAILED, message="m", now=end
        )
        assert not finish_playbook_run(session, "pb-a", 1, PlaybookRunState.SUCCEEDED)
        run = get_playbook_run(session, "pb-a")
        assert (run.state, run.finish_ts, run.message) == (PlaybookRunState.FAILED, end, "m")
        assert [t.finish_ts for t in list_targets(session, "pb-a")] == [T0, end]
        assert locked_targets(session, "pb-a") == []
    with session_scope(engine) as session:
        create_playbook_run(session, make_run("pb-b"), records("pb-b", "web2"), lock=True)
        assert lock_targets(session, "pb-b", records("pb-b", "web1")) is None
        assert locked_targets(session, "pb-b") == ["web1", "web2"]


def test_stale_locks_of_a_finished_run_are_taken_over(session: Session) -> None:
    create_playbook_run(session, make_run("pb-a", state=PlaybookRunState.FAILED), [], lock=False)
    assert (
        lock_targets(session, "pb-a", records("pb-a", "web1")) is None
    )  # as if a crash left it behind
    create_playbook_run(session, make_run("pb-b"), records("pb-b", "web1"), lock=True)
    assert locked_targets(session, "pb-b") == ["web1"]


def test_added_targets_lock_all_or_nothing(session: Session) -> None:
    create_playbook_run(session, make_run("pb-a"), records("pb-a", "web1"), lock=True)
    create_playbook_run(session, make_run("pb-b"), records("pb-b", "web2"), lock=True)
    add_targets(session, records("pb-b", "web9"))
    assert lock_targets(session, "pb-b", records("pb-b", "web9", "web1")) == (
        "web1",
        "pb-a",
        "web",
    )
    assert locked_targets(session, "pb-b") == ["web2"]
    assert [t.name for t in list_targets(session, "pb-b")] == ["web2", "web9"]


def test_locks_are_on_the_targets_address_not_its_name(engine: Engine) -> None:
    # Two playbooks naming one machine differently: a name with an address, a name that is
    # the address written another way; one IP written two ways.
    first = records("pb-a", "web1", "db", addresses={"web1": "web1.example", "db": "10.0.0.5"})
    second = records(
        "pb-b", "WEB1.example.", "db-primary", addresses={"db-primary": "::ffff:10.0.0.5"}
    )
    with session_scope(engine) as session:
        create_playbook_run(session, make_run("pb-a"), first, lock=True)
    for target in second:
        with (
            pytest.raises(TargetLockedError) as refused,
            session_scope(engine) as session,
        ):
            create_playbook_run(session, make_run("pb-b"), [target], lock=True)
        assert refused.value.holder == "pb-a"
    assert refused.value.target == "db-primary (10.0.0.5)"
    with session_scope(engine) as session:
        assert locked_targets(session, "pb-a") == ["10.0.0.5", "web1.example"]
        # Targets of one run sharing an address share its lock, also when added later.
        same = records("pb-c", "a", "b", "c", addresses={"a": "h.example", "b": "u@H.example:22"})
        create_playbook_run(session, make_run("pb-c"), same[:2], lock=True)
        later = records("pb-c", "x", addresses={"x": "https://h.example/health"})
        assert lock_targets(session, "pb-c", later) is None
        assert locked_targets(session, "pb-c") == ["h.example"]


def test_concurrent_runs_on_one_target_exactly_one_wins(engine: Engine) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def start(run_id: str) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                create_playbook_run(
                    session, make_run(run_id), records(run_id, "db1", run_id), lock=True
                )
            outcome = "won"
        except TargetLockedError as refused:
            outcome = f"refused by {refused.holder}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=start, args=(f"pb-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1
    assert all(o == "won" or o.startswith("refused by pb-") for o in outcomes), outcomes
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(TargetLockRow)) == 2


def test_cancel_requests(session: Session) -> None:
    create_playbook_run(session, make_run("pb-a"), [], lock=False)
    assert cancel_request(session, "pb-a") is None
    run = request_cancel(session, "pb-a", CancelMode.FINISH, "bob")
    assert (run.cancel_mode, run.cancel_requested_by) == (CancelMode.FINISH, "bob")
    request_cancel(session, "pb-a", CancelMode.INTERRUPT, "carol")
    request_cancel(session, "pb-a", CancelMode.FINISH, "dave")
    assert cancel_request(session, "pb-a") is CancelMode.INTERRUPT
    assert get_playbook_run(session, "pb-a").cancel_requested_by == "carol"
    finish_playbook_run(session, "pb-a", 1, PlaybookRunState.CANCELLED)
    create_playbook_run(session, make_run("pb-b", state=PlaybookRunState.SUCCEEDED), [], lock=False)
    assert request_cancel(session, "pb-b", CancelMode.FINISH, "bob").cancel_mode is None


def test_sweep_marks_dead_runs_interrupted_and_frees_their_targets(session: Session) -> None:
    create_playbook_run(
        session, make_run("pb-dead"), records("pb-dead", "web1", "web2", "web3"), lock=True
    )
    create_playbook_run(
        session,
        make_run("pb-alive", heartbeat_at=T0 + timedelta(seconds=50)),
        records("pb-alive", "db1"),
        lock=True,
    )
    update_targets(
        session,
        "pb-dead",
        {
            "web1": {"state": TargetState.SUCCEEDED, "finish_ts": T0},
            "web2": {"state": TargetState.RUNNING},
        },
    )
    now = T0 + timedelta(seconds=60)
    assert sweep_playbook_runs(session, lease_seconds=30, now=now) == ["pb-dead"]
    dead = get_playbook_run(session, "pb-dead")
    assert (dead.state, dead.finish_ts) == (PlaybookRunState.INTERRUPTED, now)
    web1, web2, web3 = list_targets(session, "pb-dead")
    assert (web1.state, web1.finish_ts) == (TargetState.SUCCEEDED, T0)
    assert (web2.state, web2.finish_ts) == (TargetState.INTERRUPTED, now)
    assert web2.message is not None and "outcome unknown" in web2.message
    assert (web3.state, web3.finish_ts) == (TargetState.SKIPPED, now)
    assert locked_targets(session, "pb-dead") == []
    assert locked_targets(session, "pb-alive") == ["db1"]
    gone = sweep_playbook_runs(session, lease_seconds=3600, owner_gone=lambda o: True, now=now)
    assert gone == ["pb-alive"]


def test_deleting_a_run_deletes_its_targets_and_locks(session: Session) -> None:
    create_playbook_run(session, make_run("pb-a"), records("pb-a", "web1"), lock=True)
    session.execute(delete(PlaybookRunRow).where(PlaybookRunRow.id == "pb-a"))
    assert session.scalar(select(func.count()).select_from(PlaybookTargetRow)) == 0
    assert session.scalar(select(func.count()).select_from(TargetLockRow)) == 0


def test_frozen_definition_is_independent_of_later_imports(session: Session) -> None:
    store_definition(session)
    run = make_run()
    create_playbook_run(session, run, [], lock=False)
    store_definition(session, WEB.replace("web3", "web9"))
    assert get_playbook_run(session, run.id).spec == load_playbook(WEB)
