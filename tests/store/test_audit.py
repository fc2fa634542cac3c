"""The stored audit log, on SQLite and PostgreSQL: appending, reading, tampering, racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from runbook.model.audit import GENESIS_HASH, EventKind, plan_subject, verify_chain
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.orchestrate import plan_writing, reviewing
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.store.audit import append_event, iter_events, list_events, verify_audit
from runbook.store.db import session_scope
from runbook.store.plans import get_plan, list_plans
from runbook.store.reviews import list_reviews
from runbook.store.tables import AuditEventRow
from tests.tamper import tamper, unguarded

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def append_some(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        for i in range(count):
            append_event(
                session,
                kind=EventKind.RUN_STATE,
                actor="alice",
                subject=f"run:r-{i % 2}",
                payload={"i": i, "state": "running"},
                at=T0 + timedelta(seconds=i),
            )


def test_append_list_and_verify(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = append_event(
            session,
            kind=EventKind.PLAN_CREATED,
            actor="alice",
            subject=plan_subject("p-1"),
            payload={"runbook": "runbooks/r.ipynb", "parameters": {"hosts": ("a", "b")}},
            at=T0,
        )
        second = append_event(
            session, kind="review.recorded", actor="bob", subject="plan:p-1", payload={}
        )
        third = append_event(
            session, kind="run.started", actor="bob", subject="run:r-1", payload={"n": 1.5}
        )
    assert (first.id, second.id, third.id) == (1, 2, 3)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    # The payload is stored, hashed and returned in its JSON form.
    assert first.payload["parameters"] == {"hosts": ["a", "b"]}
    assert second.at.tzinfo is not None
    with session_scope(engine) as session:
        assert list_events(session) == [first, second, third]
        assert list_events(session, subject="plan:p-1") == [first, second]
        assert list_events(session, subject_prefix="run:") == [third]
        assert list_events(session, subject_prefix="RUN:") == []
        assert list_events(session, limit=2, newest_first=True) == [third, second]
        assert list(iter_events(session, batch=2)) == [first, second, third]
        report = verify_audit(session)
    assert report.ok and report.checked == 3


def test_iteration_pages_through_a_long_log(engine: Engine) -> None:
    append_some(engine, 25)
    with session_scope(engine) as session:
        events = list(iter_events(session, batch=7))
        assert [e.id for e in events] == list(range(1, 26))
        assert events == list_events(session)
        assert verify_chain(events).ok
        with pytest.raises(ValueError, match="batch must be 1 or more"):
            next(iter_events(session, batch=0))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"at": datetime(2025, 3, 1)}, "naive datetime"),  # noqa: DTZ001
        ({"payload": {"x": float("inf")}}, "not plain JSON"),
        ({"payload": {"x": object()}}, "not plain JSON"),
        ({"payload": ["not", "an", "object"]}, "must be a JSON object"),
        ({"kind": ""}, "kind must be 1 to 64 characters"),
        ({"subject": "plan:" + "x" * 124}, "subject must be 1 to 128 characters"),
        ({"actor": "a" * 256}, "actor must be 1 to 255 characters"),
    ],
)
def test_malformed_events_are_refused(
    engine: Engine, changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "kind": "run.state",
        "actor": "alice",
        "subject": "run:r-1",
        "payload": {},
        **changes,
    }
    with session_scope(engine) as session:
        with pytest.raises(ValueError, match=message):
            append_event(session, **fields)  # type: ignore[arg-type]
        assert list_events(session) == []


def test_an_update_on_the_table_is_detected(engine: Engine) -> None:
    append_some(engine, 5)
    tamper(engine, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3")
    with session_scope(engine) as session:
        report = verify_audit(session)
    assert not report.ok and report.first_bad_id == 3
    assert report.reason == "event 3 was altered (its hash does not match its content)"


def test_a_payload_update_is_detected(engine: Engine) -> None:
    append_some(engine, 5)
    with unguarded(engine) as connection:
        connection.execute(
            update(AuditEventRow)
            .where(AuditEventRow.id == 4)
            .values(payload={"i": 3, "state": "succeeded"})
        )
    with session_scope(engine) as session:
        assert verify_audit(session).first_bad_id == 4


def test_a_deleted_row_is_detected(engine: Engine) -> None:
    append_some(engine, 5)
    tamper(engine, "DELETE FROM audit_events WHERE id = 3")
    with session_scope(engine) as session:
        report = verify_audit(session)
    assert not report.ok and report.first_bad_id == 3
    assert report.reason == "event ids jump from 2 to 4: event 3 was deleted"


def test_a_rolled_back_append_leaves_the_chain_intact(engine: Engine) -> None:
    append_some(engine, 2)
    session = Session(engine)
    try:
        append_event(session, kind="run.state", actor="a", subject="run:r", payload={})
        session.rollback()
    finally:
        session.close()
    # On PostgreSQL the rolled-back append used up an id: the gap is legitimate.
    append_some(engine, 2)
    with session_scope(engine) as session:
        ids = [e.id for e in list_events(session)]
        report = verify_audit(session)
    assert ids == ([1, 2, 4, 5] if engine.dialect.name == "postgresql" else [1, 2, 3, 4])
    assert report.ok and report.checked == 4


@pytest.mark.parametrize(
    ("threads", "appends"),
    [(4, 50), pytest.param(8, 1000, marks=pytest.mark.slow, id="8x1000")],
)
def test_concurrent_appenders_build_one_linear_chain(
    engine: Engine, threads: int, appends: int
) -> None:
    if appends > 50 and engine.dialect.name != "postgresql":
        pytest.skip("A3 (8 appenders x 1000 events) is a PostgreSQL target")
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def appender(number: int) -> None:
        try:
            start.wait()
            with Session(engine) as session:
                for i in range(appends):
                    append_event(
                        session,
                        kind=EventKind.CELL_FINISHED,
                        actor=f"worker-{number}",
                        subject=f"run:r-{number}",
                        payload={"cell": i},
                    )
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=appender, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with session_scope(engine) as session:
        events = list(iter_events(session))
        report = verify_audit(session)
    assert report.ok, report.reason
    assert report.checked == len(events) == threads * appends
    # No fork: every event has its own predecessor.
    assert len({e.prev_hash for e in events}) == len(events)
    for number in range(threads):
        cells = [e.payload["cell"] for e in events if e.actor == f"worker-{number}"]
        assert cells == list(range(appends))


# -- the plan and review use cases record their events in their own transaction -------------


def write_runbook(repo: Repository) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("host = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('restart', host)", metadata={"tags": ["confirm"]}),
    ]
    notebook.metadata["runbook"] = {
        "title": "Restart",
        "parameters": {
            "host": {"type": "str", "required": True},
            "password": {"type": "str", "secret": True},
        },
    }
    path = repo.runbooks_dir / "restart.ipynb"
    nbformat.write(notebook, path)
    return path


def test_planning_and_reviewing_append_events(
    repo: Repository, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASS", "hunter2-canary")
    given = {"host": "db1", "password": "env:PGPASS"}
    plan = plan_runbook(session, repo, write_runbook(repo), given, planner="alice", now=T0)
    review = review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob", comment="ok")
    created, reviewed = list_events(session, subject=plan_subject(plan.id))
    assert (created.kind, created.actor, created.at) == ("plan.created", "alice", T0)
    assert created.payload == {
        "runbook": "runbooks/restart.ipynb",
        "sha256": plan.sha256,
        "parameters": {"host": "db1", "password": "env:PGPASS"},
        "review_required": plan.review_required,
        "cwd": "runbooks",
        "forced": [],
        "review_rules": {
            "tags": [],
            "requirements": [{"approvals": 1, "reviewers": [], "source": "review"}],
        },
    }
    assert (reviewed.kind, reviewed.actor, reviewed.at) == (
        "review.recorded",
        "bob",
        review.reviewed_at,
    )
    assert reviewed.payload == {"verdict": "approved", "plan_sha256": plan.sha256, "comment": "ok"}
    # A5: secrets are recorded as references, never as values.
    assert all("hunter2" not in repr(e.payload) for e in list_events(session))
    assert verify_audit(session).ok


def test_a_failed_append_rolls_back_the_plan_and_the_review(
    repo: Repository, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_runbook(repo)
    plan = plan_runbook(session, repo, path, {"host": "db1"}, planner="alice")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(plan_writing, "append_event", broken)
    monkeypatch.setattr(reviewing, "append_event", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plan_runbook(session, repo, path, {"host": "db2"}, planner="alice")
    assert [p.id for p in list_plans(session)] == [plan.id]
    assert sorted(repo.plans_dir.glob("*")) == [repo.root / plan.notebook_path]

    with pytest.raises(RuntimeError, match="disk full"):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob")
    session.rollback()  # what every caller's session scope does on an error
    assert list_reviews(session, plan.id) == []
    assert get_plan(session, plan.id).state == "planned"
    assert [e.kind for e in list_events(session)] == ["plan.created"]
