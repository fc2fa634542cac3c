"""Playbooks: importing definitions into the store, and running them over a fleet of targets.

``import_playbook`` validates a playbook file and stores it as the next revision of its
name, with the repository's git commit and whether the file differs from it. A run
(:func:`start_playbook`) freezes that revision's definition in its record, reads the
inventory, locks the targets (``lock: true``) and records one PENDING record per target;
the batches then run as :mod:`runbook.orchestrate.playbooks.fleet_runner` describes. ``retry``
starts a new run over the FAILED targets of an earlier one, with that run's frozen
definition; ``cancel`` records a request the running process acts on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.egress import egress_policy
from runbook.errors import ConfigError, FailureError, ParameterError, UsageError, refuses_runs
from runbook.model.audit import EventKind, playbook_subject
from runbook.model.option_values import untyped_value
from runbook.model.parameters import check_text
from runbook.model.playbooks.playbook import (
    PlaybookSpec,
    Target,
    TargetState,
)
from runbook.model.playbooks.playbook_run import (
    CancelMode,
    PlaybookDefinition,
    PlaybookRun,
    PlaybookRunState,
    TargetRecord,
    new_playbook_run_id,
)
from runbook.model.repository import Repository
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.orchestrate.leases import keep_alive, lease_owner
from runbook.orchestrate.playbooks.fleet_review import check_unattended_steps
from runbook.orchestrate.playbooks.fleet_runner import FleetExecution, FleetListener, assign_batches
from runbook.orchestrate.playbooks.inventory import read_inventory
from runbook.orchestrate.playbooks.playbook_history import sweep_playbooks
from runbook.orchestrate.playbooks.playbook_plans import refuse_unplanned, runnable_playbook_plan
from runbook.store.audit import append_event
from runbook.store.leases import PLAYBOOK_RUN_LEASE
from runbook.store.playbooks.playbook_runs import (
    create_playbook_run,
    finish_playbook_run,
    get_playbook_run,
    list_targets,
    request_cancel,
)

#: The longest target name the store keeps (playbook_targets.name).
MAX_TARGET_NAME = 255


def bind_playbook_parameters(spec: PlaybookSpec, given: Mapping[str, object]) -> dict[str, Any]:
    """The run's parameter values: given ones, else declared defaults.

    An unknown name, or a required one (declared with a null default) without a value,
    raises ParameterError.
    """
    for name in given:
        if name not in spec.parameters:
            known = ", ".join(spec.parameters) or "none"
            raise ParameterError(name, f"not a parameter of playbook {spec.name} (known: {known})")
        check_text(name, given[name])
    values: dict[str, Any] = {}
    for name, default in spec.parameters.items():
        if name in given:
            values[name] = untyped_value(given[name])
        elif default is None:
            raise ParameterError(name, f"is required by playbook {spec.name}; pass -p {name} VALUE")
        else:
            values[name] = default
    return values


@dataclass
class PlaybookRequest:
    """What to run: an imported revision (or a reviewed plan of one: ``plan_id``), who
    starts it, its parameters and ``--yes``."""

    definition: PlaybookDefinition | None
    started_by: str
    parameters: Mapping[str, object] | None = None
    yes: bool = False
    listener: FleetListener | None = None
    plan_id: str | None = None


@refuses_runs
def start_playbook(
    sessions: sessionmaker[Session], repository: Repository, request: PlaybookRequest
) -> PlaybookRun:
    """Run a playbook revision to its end; returns the final run record.

    Raises ParameterError for bad parameters, ConfigError when the inventory cannot be
    read, and TargetLockedError (a PolicyError) when another running run holds a target.
    """
    if request.plan_id is not None:
        run, spec = _planned_run(sessions, repository, request)
    elif request.definition is None:
        raise UsageError("name a playbook, or a plan of one with --plan")
    else:
        spec = request.definition.spec
        refuse_unplanned(repository, spec)
        values = bind_playbook_parameters(spec, request.parameters or {})
        found = request.definition
        run = _new_run(spec, found.revision, found.definition, values, request.started_by)
    policy = egress_policy(repository.config.egress())
    targets = read_inventory(spec.inventory, repository.root, policy)
    return _execute(
        sessions, repository, run, spec, targets, yes=request.yes, listener=request.listener
    )


def _planned_run(
    sessions: sessionmaker[Session], repository: Repository, request: PlaybookRequest
) -> tuple[PlaybookRun, PlaybookSpec]:
    """The run a reviewed playbook plan makes: its frozen revision and values, nothing else."""
    if request.parameters:
        raise UsageError("a plan's parameters are frozen in it: run --plan without -p")
    with sessions() as session:
        plan, frozen = runnable_playbook_plan(session, repository, str(request.plan_id))
    if request.definition is not None and request.definition.name != frozen.name:
        raise UsageError(f"plan {plan.id} is a plan of playbook {frozen.name}")
    spec = frozen.spec
    run = _new_run(spec, frozen.revision, frozen.definition, plan.parameters, request.started_by)
    return replace(run, plan_id=plan.id), spec


@refuses_runs
def retry_playbook(
    sessions: sessionmaker[Session],
    repository: Repository,
    run_id: str,
    started_by: str,
    *,
    yes: bool = False,
    listener: FleetListener | None = None,
) -> PlaybookRun:
    """Run the FAILED targets of run ``run_id`` again, as a new run linked by ``retry_of``.

    The earlier run's frozen definition and parameters are used, not the newest import;
    the targets are taken as that run recorded them (the inventory is not read again).
    """
    with sessions.begin() as session:
        sweep_playbooks(session)
        earlier = get_playbook_run(session, run_id)
        failed = [t for t in list_targets(session, run_id) if t.state is TargetState.FAILED]
    if earlier.state is PlaybookRunState.RUNNING:
        raise UsageError(f"playbook run {run_id} is still running; retry it once it ends")
    if not failed:
        raise UsageError(f"playbook run {run_id} has no FAILED target: nothing to retry")
    if earlier.plan_id is not None:  # under the plan it ran under, if it still may run
        with sessions() as session:
            runnable_playbook_plan(session, repository, earlier.plan_id)
    else:
        refuse_unplanned(repository, earlier.spec)
    fresh = _new_run(
        earlier.spec, earlier.revision, earlier.definition, earlier.parameters, started_by
    )
    run = replace(fresh, retry_of=earlier.id, plan_id=earlier.plan_id)
    targets = [record.target for record in failed]
    return _execute(
        sessions, repository, run, earlier.spec, targets, yes=yes, listener=listener, drift=False
    )


def cancel_playbook(session: Session, run_id: str, *, interrupt: bool, by: str) -> PlaybookRun:
    """Ask running run ``run_id`` to stop; its process acts within about a second.

    Raises FailureError when the run has already ended.
    """
    sweep_playbooks(session)
    mode = CancelMode.INTERRUPT if interrupt else CancelMode.FINISH
    run = request_cancel(session, run_id, mode, by)
    if run.state.finished:
        raise FailureError(f"playbook run {run_id} already ended ({run.state.value})")
    return run


def _new_run(
    spec: PlaybookSpec,
    revision: int,
    definition: dict[str, Any],
    values: dict[str, Any],
    started_by: str,
) -> PlaybookRun:
    now = datetime.now(UTC)
    return PlaybookRun(
        id=new_playbook_run_id(now),
        playbook=spec.name,
        revision=revision,
        version=spec.version,
        definition=definition,
        parameters=values,
        started_by=started_by,
        state=PlaybookRunState.RUNNING,
        started_at=now,
        lease_owner=lease_owner(),
        heartbeat_at=now,
    )


def _execute(
    sessions: sessionmaker[Session],
    repository: Repository,
    run: PlaybookRun,
    spec: PlaybookSpec,
    targets: list[Target],
    *,
    yes: bool,
    listener: FleetListener | None,
    drift: bool = True,
) -> PlaybookRun:
    for target in targets:
        if len(target.name) > MAX_TARGET_NAME:
            raise ConfigError(
                f"target {target.name[:40]}…", f"names are limited to {MAX_TARGET_NAME} characters"
            )
    if run.plan_id is None:  # a reviewed plan's approval covers its runbook steps
        with sessions() as session:  # before anything starts: not target by target
            check_unattended_steps(session, repository, spec, targets, run.parameters)
    batches = assign_batches(spec, [target.name for target in targets])
    records = [
        TargetRecord(
            run_id=run.id,
            name=target.name,
            address=target.address,
            vars=dict(target.vars),
            state=TargetState.PENDING,
            position=position,
            batch=batches[target.name],
        )
        for position, target in enumerate(targets, 1)
    ]
    with sessions.begin() as session:
        sweep_playbooks(session)
        create_playbook_run(session, run, records, lock=spec.lock)
        append_event(
            session,
            kind=EventKind.PLAYBOOK_RUN_STARTED,
            actor=run.started_by,
            subject=playbook_subject(run.id),
            payload={
                "playbook": run.playbook,
                "revision": run.revision,
                "version": run.version,
                "parameters": run.parameters,
                "targets": len(records),
                "retry_of": run.retry_of,
                "plan": run.plan_id,
            },
        )
    told = listener or FleetListener()
    told.run_started(run, records)
    execution = FleetExecution(
        sessions, repository, run, spec, records, yes=yes, listener=told, watch_inventory=drift
    )
    try:
        with keep_alive(sessions, PLAYBOOK_RUN_LEASE, run.id, run.lease_epoch):
            execution.execute()
    except BaseException as error:
        # The targets in flight have an unknown outcome: end the run as interrupted now
        # rather than holding its locks until the lease expires.
        _finish(sessions, execution, PlaybookRunState.INTERRUPTED, f"stopped: {error!r}")
        raise
    state, message = _outcome(execution)
    final = _finish(sessions, execution, state, message)
    anchor_quietly(sessions, repository, reason=f"playbook run {run.id} finished", log=True)
    told.run_finished(final)
    return final


def _outcome(execution: FleetExecution) -> tuple[PlaybookRunState, str]:
    counts = Counter(record.state for record in execution.records.values())
    summary = ", ".join(f"{n} {state.value}" for state, n in sorted(counts.items()))
    summary = summary or "no targets: the inventory is empty"
    notes = list(execution.warnings)
    if execution.cancel_mode is not None:
        state = PlaybookRunState.CANCELLED
        notes.insert(0, f"cancelled ({execution.cancel_mode.value})")
    elif counts[TargetState.FAILED] or execution.stopped_by_failures:
        state = PlaybookRunState.FAILED
        if execution.stopped_by_failures:
            notes.insert(0, f"stopped: more than max_failures ({execution.limit}) targets failed")
    else:
        state = PlaybookRunState.SUCCEEDED
    return state, "; ".join([summary, *notes])


def _finish(
    sessions: sessionmaker[Session],
    execution: FleetExecution,
    state: PlaybookRunState,
    message: str,
) -> PlaybookRun:
    run_id = execution.run.id
    with sessions.begin() as session:
        execution.flush_into(session)
        epoch = execution.run.lease_epoch
        if finish_playbook_run(session, run_id, epoch, state, message=message):
            counts = Counter(r.state.value for r in execution.records.values())
            failed = [n for n, r in execution.records.items() if r.state is TargetState.FAILED]
            append_event(
                session,
                kind=EventKind.PLAYBOOK_RUN_FINISHED,
                actor=execution.run.started_by,
                subject=playbook_subject(run_id),
                # A bounded list: the target records hold the rest.
                payload={"state": state.value, "targets": dict(counts), "failed": failed[:100]},
            )
        return get_playbook_run(session, run_id)
