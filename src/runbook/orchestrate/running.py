"""``runbook run``: the checks before a run, its lease while it runs, its record after.

The engine executes; this module decides whether it may, holds the plan's run lock and the
run's lease in the store, and keeps the lease alive from a heartbeat thread. A run whose
process dies keeps its lease until it expires (or its owner is seen to be gone), and the next
command that looks marks it ``interrupted``: outcome unknown, never silently ``failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from runbook.engine.executor import Outcome, execute_run
from runbook.engine.hooks import (
    AutosaveObserver,
    LogObserver,
    Operator,
    RecordObserver,
    RunContext,
    RunObserver,
)
from runbook.engine.launch import RunKernelManager, kernel_name
from runbook.errors import (
    ConfigError,
    NotAPlanError,
    PlaybookPlanError,
    RunbookError,
    RunStoreLostError,
    StoreError,
    UnknownPlanError,
    UsageError,
    refuses_runs,
)
from runbook.masking import SecretMasker
from runbook.model.audit import EventKind, run_subject
from runbook.model.cells import find_cell
from runbook.model.ids import IdKind, id_path, run_folder
from runbook.model.notebook import parse_meta
from runbook.model.plan import Plan
from runbook.model.playbooks.playbook_plan import playbook_plan_of
from runbook.model.repository import NOTEBOOK_SUFFIX, Repository
from runbook.model.run import Run, RunMode, RunState
from runbook.model.settings_process import process_settings
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.orchestrate.leases import keep_alive, lease_owner
from runbook.orchestrate.notifications import NotifyObserver
from runbook.orchestrate.planning import load_runnable, plan_folder
from runbook.orchestrate.report_records import report_record
from runbook.orchestrate.run_launch import EarlyRun, launch_early
from runbook.orchestrate.sweeping import sweep
from runbook.secrets import resolve_reference
from runbook.store.audit import append_event
from runbook.store.leases import RUN_LEASE
from runbook.store.plans import get_plan
from runbook.store.retry import retrying
from runbook.store.runs import (
    create_run,
    get_run,
    list_cell_events,
    list_runs,
)
from runbook.typing import Notebook


@dataclass
class RunRequest:
    """Everything ``start_run`` needs besides the store and the repository."""

    plan_id: str
    executor: str
    operator: Operator
    mode: RunMode = RunMode.AUTOMATIC
    observers: Sequence[RunObserver] = field(default_factory=list)
    start_cell: str | None = None
    rebuild: bool = True
    cell_timeout: float | None = None
    #: The run's kernel and report worker, started by the caller (``run_launch.launch_early``)
    #: before importing this module; without them, ``start_run`` starts them first.
    early: EarlyRun | None = None
    #: Told the run's kernel as soon as it is launched (e.g. to interrupt it from elsewhere).
    on_kernel: Callable[[RunKernelManager], None] | None = None
    #: Called in the transaction that records the run, before its kernel runs a cell: a
    #: caller linking the run to its own record (a workflow task) does it there, so the link
    #: exists whenever the run does, whenever the process dies.
    on_record: Callable[[Session, Run], None] | None = None
    #: Called once the run is recorded (committed), before its kernel runs a cell: a caller
    #: in another process (the service) learns the run's id there.
    on_admitted: Callable[[Run], None] | None = None


def resolve_plan_id(session: Session, repository: Repository, name: str) -> str:
    """``name`` if it is a plan; NotAPlanError (a refusal) naming the runbook when it is one.

    A name that is neither is a usage error (UnknownPlanError, exit 2): nothing to refuse.
    """
    try:
        return get_plan(session, name).id
    except UnknownPlanError as unknown:
        try:
            path = repository.find_runbook(name)
        except UsageError:
            raise unknown from None
    raise NotAPlanError(name, repository.runbook_name(path))


@dataclass(frozen=True)
class RunResult:
    """A finished run: its record, how it ended, the reports written, and any warnings."""

    run: Run
    outcome: Outcome
    reports: list[str]
    warnings: list[str]


@refuses_runs
def start_run(
    sessions: sessionmaker[Session], repository: Repository, request: RunRequest
) -> RunResult:
    """Check, lock, execute and record one run of a plan, then write its reports.

    The plan's kernel boots first, in its own process, while the checks run (see
    :mod:`runbook.orchestrate.run_launch`); it runs nothing unless they pass.
    """
    early = request.early or launch_early(
        repository, request.plan_id, dry_run=request.mode is RunMode.DRY_RUN
    )
    try:
        notebook, start, run, cwd = _admit(sessions, repository, request, early)
    except BaseException:
        early.discard()  # started early, but the run may not start
        raise
    if request.on_admitted is not None:
        request.on_admitted(run)
    kernel = early.kernel if _fits(early, notebook, cwd) else None
    if kernel is not None and request.on_kernel is not None:
        request.on_kernel(kernel)
    ctx = RunContext(
        run=run,
        notebook=notebook,
        repo_root=repository.root,
        masker=_masker_for(notebook),
        dry_run=run.mode is RunMode.DRY_RUN,
        kernel_user=repository.config.kernel_user,
        cwd=cwd,
    )
    config = repository.config
    notifier = (
        NotifyObserver(config.notify_urls, config.notify_events) if config.notify_urls else None
    )
    budget = process_settings().store_retry_seconds
    recorder = RecordObserver(sessions, budget)
    observers = [AutosaveObserver(), LogObserver(), recorder, *request.observers]
    if notifier is not None:
        observers.append(notifier)
    reports = early.reports
    with keep_alive(sessions, RUN_LEASE, run.id, run.lease_epoch):
        outcome = execute_run(
            ctx,
            operator=request.operator,
            observers=observers,
            start_cell=start,
            rebuild=request.rebuild,
            cell_timeout=request.cell_timeout,
            kernel_manager=kernel,
        )
    if recorder.lost is not None:
        detail = outcome.message if outcome.state is RunState.INTERRUPTED else None
        raise RunStoreLostError(
            run.id,
            run.notebook_path,
            detail
            or f"it ended {outcome.state.value}, but the store cannot record it: {recorder.lost}",
        )
    try:
        finished, events, record = retrying(
            sessions,
            lambda session: (
                get_run(session, run.id),
                list_cell_events(session, run.id),
                report_record(session, repository, run),
            ),
            budget=budget,
        )
    except StoreError as error:  # the run is recorded: only its reports are lost
        warnings = [f"no report written: {error}"]
        ended = replace(run, state=outcome.state, message=outcome.message)
        return RunResult(run=ended, outcome=outcome, reports=[], warnings=warnings)
    written, warnings = reports.write(finished, events, ctx.notebook, record)
    if notifier is not None:
        warnings = notifier.warnings + warnings
    warnings += anchor_quietly(sessions, repository, reason=f"run {run.id} finished")
    return RunResult(run=finished, outcome=outcome, reports=written, warnings=warnings)


def _admit(
    sessions: sessionmaker[Session],
    repository: Repository,
    request: RunRequest,
    early: EarlyRun,
) -> tuple[Notebook, int, Run, Path]:
    """The policy checks, then the run record that takes the plan's run lock."""
    with sessions.begin() as session:
        sweep(session, repository)
        plan_id = resolve_plan_id(session, repository, request.plan_id)
        if playbook_plan_of(get_plan(session, plan_id)) is not None:
            raise PlaybookPlanError(plan_id)  # before anything is recorded
        plan, notebook = load_runnable(session, repository, plan_id, early.plan_file)
        previous = list_runs(session, plan_id=plan.id, limit=1)
    cwd = plan_folder(repository, plan.id, notebook)
    start = 0 if request.start_cell is None else find_cell(notebook, request.start_cell)
    resumed_from = previous[0].id if previous and start else None
    run = _new_run(repository, plan, request, early, start, resumed_from)
    with sessions.begin() as session:
        create_run(session, run)
        append_event(
            session,
            kind=EventKind.RUN_STARTED,
            actor=run.executor,
            subject=run_subject(run.id),
            payload={
                "plan": plan.id,
                "plan_sha256": plan.sha256,
                "mode": run.mode.value,
                "start_cell": start,
                "resumed_from": run.resumed_from,
                "rebuild": request.rebuild if start else None,
            },
        )
        if request.on_record is not None:
            request.on_record(session, run)
    return notebook, start, run, cwd


def _fits(early: EarlyRun, notebook: Notebook, cwd: Path) -> bool:
    """Whether an early kernel is the verified plan's; if not, it is stopped here."""
    kernel = early.kernel
    if kernel is None:
        return False
    if kernel.kernel_name == kernel_name(notebook) and kernel.runbook_cwd == cwd:
        return True
    # Launched for another kernelspec or folder than the verified plan's: the engine starts
    # the right one.
    early.discard_kernel()
    return False


def _new_run(
    repository: Repository,
    plan: Plan,
    request: RunRequest,
    early: EarlyRun,
    start: int,
    resumed_from: str | None,
) -> Run:
    now = datetime.now(UTC)
    run_id = early.run_id
    # The plan's id comes from the store: it names a file only through the resolver.
    notebook = id_path(run_folder(repository, run_id), IdKind.PLAN, plan.id, NOTEBOOK_SUFFIX)
    return Run(
        id=run_id,
        plan_id=plan.id,
        executor=request.executor,
        mode=request.mode,
        state=RunState.RUNNING,
        started_at=now,
        notebook_path=repository.relative(notebook),
        lease_owner=lease_owner(),
        heartbeat_at=now,
        resumed_from=resumed_from,
        start_cell=start,
    )


def _masker_for(notebook: Notebook) -> SecretMasker:
    """A masker knowing the values of the plan's secret parameters, resolved here too."""
    masker = SecretMasker()
    meta = notebook.metadata.get("runbook", {})
    try:
        declared = parse_meta(meta, "plan", default_title="plan").declared or {}
    except RunbookError:
        return masker
    references = meta.get("plan", {}).get("parameters", {})
    for name, spec in declared.items():
        reference = references.get(name)
        if spec.secret and isinstance(reference, str):
            try:
                masker.add(resolve_reference(reference))
            except ConfigError:
                continue  # the kernel fails to resolve it too and reports it in its cell
    return masker
