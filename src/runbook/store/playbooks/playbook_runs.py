"""Record functions for playbook runs and their targets (definitions: ``playbook_definitions``).

Target locks are :mod:`runbook.store.target_locks`; they are released in the transaction
that ends the run (or that marks it interrupted), so a lock exists only while its run is
running.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from runbook.errors import (
    TargetLockedError,
    UnknownPlaybookRunError,
)
from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import (
    CancelMode,
    PlaybookRun,
    PlaybookRunState,
    TargetRecord,
)
from runbook.store.leases import (
    PLAYBOOK_RUN_LEASE,
    LeaseLostError,
    OwnerGone,
    fenced_update,
    interrupt_expired,
)
from runbook.store.run_records import ids_starting, newest_first
from runbook.store.tables import (
    PlaybookRunRow,
    PlaybookTargetRow,
    TargetLockRow,
)
from runbook.store.target_locks import lock_targets, release_locks


def create_playbook_run(
    session: Session, run: PlaybookRun, targets: Sequence[TargetRecord], *, lock: bool
) -> None:
    """Insert a running playbook run and its target records; with ``lock``, lock the targets.

    Raises TargetLockedError (naming the first target held and its run) when another running
    run holds one of them; the caller's transaction must then be rolled back.
    """
    session.add(
        PlaybookRunRow(
            id=run.id,
            playbook=run.playbook,
            revision=run.revision,
            version=run.version,
            definition=run.definition,
            parameters=run.parameters,
            started_by=run.started_by,
            state=run.state.value,
            started_at=run.started_at,
            finish_ts=run.finish_ts,
            retry_of=run.retry_of,
            cancel_mode=None,
            cancel_requested_by=None,
            lease_owner=run.lease_owner,
            lease_epoch=run.lease_epoch,
            heartbeat_at=run.heartbeat_at or run.started_at,
            message=run.message,
            plan_id=run.plan_id,
        )
    )
    session.flush()
    add_targets(session, targets)
    if lock:
        conflict = lock_targets(session, run.id, targets)
        if conflict is not None:
            raise TargetLockedError(*conflict)


def add_targets(session: Session, targets: Iterable[TargetRecord]) -> None:
    """Insert target records (at run start, or targets that appeared during the run)."""
    rows = [_target_values(target) for target in targets]
    if rows:
        session.execute(insert(PlaybookTargetRow), rows)


def update_targets(session: Session, run_id: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Set fields of many target records of one run at once: ``{name: {field: value}}``.

    States may be given as TargetState. Records changing the same fields are written in one
    executemany statement, so a batch of 500 targets costs a few round trips.
    """
    table = cast(Table, PlaybookTargetRow.__table__)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for name, values in changes.items():
        plain = {key: _plain(value) for key, value in values.items()}
        groups[tuple(sorted(plain))].append(
            {"b_name": name, **{f"v_{key}": value for key, value in plain.items()}}
        )
    for keys, rows in groups.items():
        statement = (
            update(table)
            .where(table.c.run_id == run_id, table.c.name == bindparam("b_name"))
            .values({key: bindparam(f"v_{key}", type_=table.c[key].type) for key in keys})
        )
        session.execute(statement, rows)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, TargetState) else value


def get_playbook_run(session: Session, run_id: str) -> PlaybookRun:
    """The playbook run with this id; UnknownPlaybookRunError if there is none."""
    row = session.get(PlaybookRunRow, run_id, populate_existing=True)
    if row is None:
        raise UnknownPlaybookRunError(run_id)
    return _to_run(row)


def list_playbook_runs(
    session: Session,
    *,
    playbook: str | None = None,
    state: PlaybookRunState | None = None,
    limit: int | None = None,
) -> list[PlaybookRun]:
    """Playbook runs, newest first, optionally of one playbook or in one state."""
    rows = newest_first(
        session,
        PlaybookRunRow,
        limit=limit,
        playbook=playbook,
        state=state.value if state else None,
    )
    return [_to_run(row) for row in rows]


def playbook_run_ids(session: Session, prefix: str = "") -> list[str]:
    """Playbook run ids starting with ``prefix``, sorted (for shell completion)."""
    return ids_starting(session, PlaybookRunRow, prefix)


def list_targets(session: Session, run_id: str) -> list[TargetRecord]:
    """The target records of a playbook run, by position."""
    query = (
        select(PlaybookTargetRow)
        .where(PlaybookTargetRow.run_id == run_id)
        .order_by(PlaybookTargetRow.position, PlaybookTargetRow.id)
        .execution_options(populate_existing=True)
    )
    return [_to_target(row) for row in session.scalars(query)]


def request_cancel(session: Session, run_id: str, mode: CancelMode, by: str) -> PlaybookRun:
    """Record a cancel request on a run; returns the run as it is now.

    A running run gets the request (an ``interrupt`` request is never weakened to
    ``finish`` by a later one); a finished run is returned unchanged.
    """
    run = get_playbook_run(session, run_id)
    if run.state.finished or run.cancel_mode is CancelMode.INTERRUPT:
        return run
    session.execute(
        update(PlaybookRunRow)
        .where(PlaybookRunRow.id == run_id, PlaybookRunRow.state == PlaybookRunState.RUNNING.value)
        .values(cancel_mode=mode.value, cancel_requested_by=by)
        .execution_options(synchronize_session=False)
    )
    return get_playbook_run(session, run_id)


def cancel_request(session: Session, run_id: str) -> CancelMode | None:
    """The cancel request recorded on a run, if any (what a runner polls)."""
    query = select(PlaybookRunRow.cancel_mode).where(PlaybookRunRow.id == run_id)
    mode = session.scalar(query)
    return CancelMode(mode) if mode else None


def finish_playbook_run(
    session: Session,
    run_id: str,
    epoch: int,
    state: PlaybookRunState,
    *,
    message: str | None = None,
    now: datetime | None = None,
) -> bool:
    """End a running run: its state, ``finish_ts`` on it and on every target, locks freed.

    Returns False, changing nothing, when the run is no longer this holder's at ``epoch`` (a
    sweep marked it interrupted meanwhile).
    """
    if state is PlaybookRunState.RUNNING:
        raise ValueError("finish_playbook_run needs a final state")
    moment = now or datetime.now(UTC)
    values = {"state": state.value, "finish_ts": moment, "message": message}
    try:
        fenced_update(session, PLAYBOOK_RUN_LEASE, run_id, epoch, **values)
    except LeaseLostError:
        return False
    _finish_targets(session, [run_id], moment)
    release_locks(session, run_id)
    return True


def _finish_targets(session: Session, run_ids: list[str], moment: datetime) -> None:
    session.execute(
        update(PlaybookTargetRow)
        .where(PlaybookTargetRow.run_id.in_(run_ids), PlaybookTargetRow.finish_ts.is_(None))
        .values(finish_ts=moment)
        .execution_options(synchronize_session=False)
    )


def sweep_playbook_runs(
    session: Session,
    *,
    lease_seconds: float,
    owner_gone: OwnerGone | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Mark running playbook runs whose process died ``interrupted``; returns their ids.

    Their targets get ``finish_ts`` and their locks are freed. A target that was RUNNING
    becomes INTERRUPTED, its outcome unknown (never turned into FAILED); PENDING targets,
    which cannot have started, become SKIPPED.
    """
    moment = now or datetime.now(UTC)
    rows = interrupt_expired(
        session,
        PLAYBOOK_RUN_LEASE,
        lease_seconds=lease_seconds,
        owner_gone=owner_gone,
        now=moment,
        finish_ts=moment,
        message="the playbook run's process stopped heart-beating",
    )
    marked = [row.id for row in rows]
    if not marked:
        return marked
    targets = PlaybookTargetRow
    for state, message in (
        (TargetState.RUNNING, "outcome unknown: the run's process died while this target ran"),
        (TargetState.PENDING, "not started: the run's process died"),
    ):
        after = TargetState.SKIPPED if state is TargetState.PENDING else TargetState.INTERRUPTED
        values: dict[str, Any] = {"message": message, "state": after.value}
        session.execute(
            update(targets)
            .where(targets.run_id.in_(marked), targets.state == state.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    _finish_targets(session, marked, moment)
    session.execute(delete(TargetLockRow).where(TargetLockRow.run_id.in_(marked)))
    return marked


# ---------------------------------------------------------------------------------------------
# Rows to records


def _target_values(target: TargetRecord) -> dict[str, Any]:
    return {
        "run_id": target.run_id,
        "name": target.name,
        "address": target.address,
        "vars": dict(target.vars),
        "state": target.state.value,
        "position": target.position,
        "batch": target.batch,
        "added": target.added,
        "removed": target.removed,
        "attempts": target.attempts,
        "start_seq": target.start_seq,
        "started_at": target.started_at,
        "finish_ts": target.finish_ts,
        "message": target.message,
        "results": list(target.results),
    }


def _to_run(row: PlaybookRunRow) -> PlaybookRun:
    return PlaybookRun(
        id=row.id,
        playbook=row.playbook,
        revision=row.revision,
        version=row.version,
        definition=dict(row.definition),
        parameters=dict(row.parameters),
        started_by=row.started_by,
        state=PlaybookRunState(row.state),
        started_at=row.started_at,
        finish_ts=row.finish_ts,
        retry_of=row.retry_of,
        cancel_mode=CancelMode(row.cancel_mode) if row.cancel_mode else None,
        cancel_requested_by=row.cancel_requested_by,
        lease_owner=row.lease_owner,
        lease_epoch=row.lease_epoch,
        heartbeat_at=row.heartbeat_at,
        message=row.message,
        plan_id=row.plan_id,
    )


def _to_target(row: PlaybookTargetRow) -> TargetRecord:
    return TargetRecord(
        run_id=row.run_id,
        name=row.name,
        address=row.address,
        vars=dict(row.vars),
        state=TargetState(row.state),
        position=row.position,
        batch=row.batch,
        added=row.added,
        removed=row.removed,
        attempts=row.attempts,
        start_seq=row.start_seq,
        started_at=row.started_at,
        finish_ts=row.finish_ts,
        message=row.message,
        results=list(row.results),
    )


def spending_playbook_run(session: Session, plan_id: str) -> str | None:
    """The first playbook run of the plan that succeeded: it spent the plan's approval."""
    query = (
        select(PlaybookRunRow.id)
        .where(
            PlaybookRunRow.plan_id == plan_id,
            PlaybookRunRow.state == PlaybookRunState.SUCCEEDED.value,
        )
        .order_by(PlaybookRunRow.started_at, PlaybookRunRow.id)
        .limit(1)
    )
    return session.scalar(query)
