"""Runs in the store, on SQLite and PostgreSQL: the plan's run lock, the lease, the sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from runbook.errors import PlanRunningError, StoreError, UnknownRunError
from runbook.model.plan import Plan
from runbook.model.run import CellEvent, CellStatus, Decision, Run, RunMode, RunState
from runbook.store.plans import create_plan
from runbook.store.runs import (
    add_cell_event,
    create_run,
    finish_run,
    get_run,
    heartbeat,
    list_cell_events,
    list_runs,
    run_ids,
    sweep_interrupted,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _run(run_id: str = "r-1", plan_id: str = "p-1", **changes: object) -> Run:
    fields: dict[str, object] = {
        "id": run_id,
        "plan_id": plan_id,
        "executor": "alice",
        "mode": RunMode.AUTOMATIC,
        "state": RunState.RUNNING,
        "started_at": NOW,
        "notebook_path": f"runs/{run_id}/x.ipynb",
        "lease_owner": "host:1",
        "heartbeat_at": NOW,
    }
    fields.update(changes)
    return Run(**fields)  # type: ignore[arg-type]


@pytest.fixture
def planned(session: Session, make_plan: Callable[..., Plan]) -> Session:
    create_plan(session, make_plan("p-1"))
    create_plan(session, make_plan("p-2"))
    session.commit()
    return session


def test_one_plan_runs_once_at_a_time(planned: Session) -> None:
    create_run(planned, _run("r-1"))
    planned.commit()
    with pytest.raises(PlanRunningError, match=r"plan p-1 is already running \(run r-1 by alice"):
        create_run(planned, _run("r-2"))
    create_run(planned, _run("r-3", plan_id="p-2"))  # another plan is not blocked
    finish_run(planned, "r-1", 1, RunState.SUCCEEDED, now=NOW + timedelta(seconds=5))
    create_run(planned, _run("r-2"))  # the lock was released
    planned.commit()
    assert get_run(planned, "r-1").duration == 5.0
    assert {r.id for r in list_runs(planned, state=RunState.RUNNING)} == {"r-2", "r-3"}
    assert run_ids(planned, "r-") == ["r-1", "r-2", "r-3"]


def test_a_stale_epoch_or_a_finished_run_cannot_write(planned: Session) -> None:
    create_run(planned, _run())
    heartbeat(planned, "r-1", 1, now=NOW + timedelta(seconds=1))
    with pytest.raises(StoreError, match="no longer held by this process"):
        heartbeat(planned, "r-1", 2)
    finish_run(planned, "r-1", 1, RunState.FAILED, "boom")
    with pytest.raises(StoreError):
        finish_run(planned, "r-1", 1, RunState.SUCCEEDED)
    assert get_run(planned, "r-1").state is RunState.FAILED
    with pytest.raises(UnknownRunError):
        get_run(planned, "nope")


def test_expired_or_orphaned_leases_become_interrupted(planned: Session) -> None:
    create_run(planned, _run("r-old", heartbeat_at=NOW - timedelta(seconds=60)))
    create_run(planned, _run("r-dead", plan_id="p-2", lease_owner="host:999"))
    marked = sweep_interrupted(
        planned, lease_seconds=30, now=NOW, owner_gone=lambda owner: owner == "host:999"
    )
    planned.commit()
    assert sorted(marked) == ["r-dead", "r-old"]
    old = get_run(planned, "r-old")
    assert old.state is RunState.INTERRUPTED and "outcome of the cell in flight is unknown" in (
        old.message or ""
    )
    create_run(planned, _run("r-new"))  # the lock went with the lease
    assert sweep_interrupted(planned, lease_seconds=30, now=NOW) == []


def test_cell_events_keep_their_order_and_fields(planned: Session) -> None:
    create_run(planned, _run())
    first = CellEvent(
        run_id="r-1",
        cell_index=2,
        cell_type="code",
        status=CellStatus.FAILED,
        tags=("confirm",),
        decision=Decision.YES,
        decided_by="bob",
        started_at=NOW,
        ended_at=NOW + timedelta(seconds=2),
        error="E: x",
    )
    again = CellEvent(
        run_id="r-1",
        cell_index=2,
        cell_type="code",
        status=CellStatus.SUCCEEDED,
        started_at=NOW,
        ended_at=NOW,
    )
    add_cell_event(planned, first)
    add_cell_event(planned, again)
    events = list_cell_events(planned, "r-1")
    assert events == [first, again] and events[0].duration == 2.0
