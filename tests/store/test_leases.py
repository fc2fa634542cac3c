"""One lease for every kind of run, on SQLite and PostgreSQL: renewed, fenced, expired.

Each kind (run, workflow run, playbook run) is driven through the same cases by a small
adapter that knows how to record one, end it as its holder and sweep it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from runbook.errors import StoreError
from runbook.model.playbooks.playbook_run import PlaybookRunState
from runbook.model.run import Run, RunMode, RunState
from runbook.model.workflows.workflow import load_workflows
from runbook.model.workflows.workflow_run import TriggerKind, WorkflowRun, WorkflowState
from runbook.store.leases import (
    LEASE_KINDS,
    PLAYBOOK_RUN_LEASE,
    RUN_LEASE,
    WORKFLOW_RUN_LEASE,
    LeaseKind,
    LeaseLostError,
    renew_lease,
)
from runbook.store.plans import create_plan
from runbook.store.playbooks.playbook_runs import (
    create_playbook_run,
    finish_playbook_run,
    sweep_playbook_runs,
)
from runbook.store.runs import create_run, finish_run, sweep_interrupted
from runbook.store.workflows.workflow_runs import (
    create_workflow_run,
    finish_workflow_run,
    sweep_workflow_runs,
)
from tests.store.conftest import T0, _make_plan
from tests.store.playbooks.test_playbooks import make_run as make_playbook_run

ONE = "workflows:\n  - name: one\n    notebooks:\n      only: {filename: a.ipynb}\n"


@dataclass(frozen=True)
class Leased:
    """How to record, end and sweep one kind of leased record."""

    kind: LeaseKind[Any]
    create: Callable[[Session, str, datetime, str], None]
    finish: Callable[[Session, str, int], bool]
    sweep: Callable[..., list[str]]


def _create_run(session: Session, record_id: str, beat: datetime, owner: str) -> None:
    plan = _make_plan(f"p-{record_id}")
    create_plan(session, plan)
    run = Run(
        id=record_id,
        plan_id=plan.id,
        executor="alice",
        mode=RunMode.AUTOMATIC,
        state=RunState.RUNNING,
        started_at=T0,
        notebook_path=f"runs/{record_id}/x.ipynb",
        lease_owner=owner,
        heartbeat_at=beat,
    )
    create_run(session, run)


def _finish_run(session: Session, record_id: str, epoch: int) -> bool:
    try:
        finish_run(session, record_id, epoch, RunState.SUCCEEDED)
    except StoreError:
        return False
    return True


def _create_workflow_run(session: Session, record_id: str, beat: datetime, owner: str) -> None:
    spec = load_workflows(ONE).workflows["one"]
    run = WorkflowRun(
        id=record_id,
        workflow="one",
        source="workflows/one.yml",
        spec=spec,
        parameters={},
        trigger=TriggerKind.MANUAL,
        started_by="alice",
        state=WorkflowState.RUNNING,
        started_at=T0,
        lease_owner=owner,
        heartbeat_at=beat,
    )
    assert create_workflow_run(session, run, spec.tasks)


def _create_playbook_run(session: Session, record_id: str, beat: datetime, owner: str) -> None:
    run = replace(make_playbook_run(record_id), lease_owner=owner, heartbeat_at=beat)
    create_playbook_run(session, run, [], lock=False)


KINDS = {
    "run": Leased(RUN_LEASE, _create_run, _finish_run, sweep_interrupted),
    "workflow run": Leased(
        WORKFLOW_RUN_LEASE,
        _create_workflow_run,
        lambda s, i, e: finish_workflow_run(s, i, e, WorkflowState.SUCCEEDED, keep_claim=True),
        sweep_workflow_runs,
    ),
    "playbook run": Leased(
        PLAYBOOK_RUN_LEASE,
        _create_playbook_run,
        lambda s, i, e: finish_playbook_run(s, i, e, PlaybookRunState.SUCCEEDED),
        sweep_playbook_runs,
    ),
}


@pytest.fixture(params=list(KINDS))
def leased(request: pytest.FixtureRequest) -> Leased:
    return KINDS[str(request.param)]


def test_every_kind_of_run_is_leased() -> None:
    assert {k.kind for k in KINDS.values()} == set(LEASE_KINDS)


def _heartbeat_at(session: Session, leased: Leased, record_id: str) -> datetime:
    table = leased.kind.table
    heartbeat: datetime = session.scalars(
        select(table.heartbeat_at).where(table.id == record_id)
    ).one()
    return heartbeat


def test_the_holder_renews_its_lease_and_ends_the_record(session: Session, leased: Leased) -> None:
    leased.create(session, "x-1", T0, "host:1")
    later = T0 + timedelta(seconds=20)
    renew_lease(session, leased.kind, "x-1", 1, now=later)
    assert _heartbeat_at(session, leased, "x-1") == later
    # Renewed: a sweep 40 s after the start (30 s leases) leaves it alone.
    assert leased.sweep(session, lease_seconds=30, now=T0 + timedelta(seconds=40)) == []
    assert leased.finish(session, "x-1", 1)
    with pytest.raises(LeaseLostError, match=f"{leased.kind.noun} x-1 is no longer held"):
        renew_lease(session, leased.kind, "x-1", 1)  # it ended: there is no lease to renew


def test_a_writer_with_a_stale_epoch_is_refused(session: Session, leased: Leased) -> None:
    leased.create(session, "x-1", T0, "host:1")
    table = leased.kind.table
    # Another holder took the lease over (a takeover moves the epoch on).
    session.execute(update(table).where(table.id == "x-1").values(lease_epoch=2))
    with pytest.raises(LeaseLostError):
        renew_lease(session, leased.kind, "x-1", 1, now=T0 + timedelta(seconds=5))
    assert _heartbeat_at(session, leased, "x-1") == T0
    assert not leased.finish(session, "x-1", 1)
    assert session.scalars(select(table.state).where(table.id == "x-1")).one() == (
        leased.kind.running
    )
    assert leased.finish(session, "x-1", 2)  # the new holder may


def test_an_expired_or_orphaned_lease_is_swept_and_its_holder_refused(
    session: Session, leased: Leased
) -> None:
    leased.create(session, "x-old", T0 - timedelta(seconds=60), "host:1")
    leased.create(session, "x-orphan", T0, "host:2")
    leased.create(session, "x-alive", T0, "host:3")
    marked = leased.sweep(
        session, lease_seconds=30, owner_gone=lambda owner: owner == "host:2", now=T0
    )
    assert sorted(marked) == ["x-old", "x-orphan"]
    for swept in marked:
        with pytest.raises(LeaseLostError):
            renew_lease(session, leased.kind, swept, 1)
        assert not leased.finish(session, swept, 1)  # the sweep's verdict stands
    assert leased.finish(session, "x-alive", 1)


def test_records_from_before_epochs_hold_the_first_one(store_url: str) -> None:
    from runbook.store.db import downgrade, make_engine, session_scope, upgrade

    engine = make_engine(store_url)
    try:
        upgrade(engine, "0005")
        kinds: tuple[LeaseKind[Any], ...] = (WORKFLOW_RUN_LEASE, PLAYBOOK_RUN_LEASE)
        with session_scope(engine) as session:
            for kind in kinds:
                table = cast(Table, kind.table.__table__)
                session.execute(table.insert(), [_old_row(kind)])
        upgrade(engine)
        with session_scope(engine) as session:
            for kind in kinds:
                renew_lease(session, kind, "old-1", 1, now=T0)
        downgrade(engine, "0005")  # and back: the revision undoes itself
    finally:
        engine.dispose()


def _old_row(kind: LeaseKind[Any]) -> dict[str, Any]:
    """A running record as revision 0005 stored it: the columns it requires, no epoch."""
    fixed: dict[str, Any] = {
        "id": "old-1",
        "state": kind.running,
        "started_at": T0,
        "lease_owner": "host:1",
        "heartbeat_at": T0,
    }
    if kind is WORKFLOW_RUN_LEASE:
        fixed |= {
            "workflow": "one",
            "source": "workflows/one.yml",
            "spec": {},
            "parameters": {},
            "trigger": "manual",
            "started_by": "alice",
        }
    else:
        fixed |= {
            "playbook": "web",
            "revision": 1,
            "version": "1.0",
            "definition": {},
            "definition_sha256": "a" * 64,
            "started_by": "alice",
            "inventory": {},
            "parameters": {},
            "options": {},
        }
    return fixed
