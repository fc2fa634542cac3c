"""Answering an alert by its procedure's policy: manual, suggest, or auto under guards.

- ``manual``: the answer (rule, runbook, mapped values) is recorded and shown; nothing runs.
- ``suggest``: a plan is made with the mapped values (planned by ``catalog:RULE``) and the
  repository's notification targets are told, with the plan to review and run.
- ``auto``: the guards are checked first: the kill switch (``runbook catalog pause``), at
  most one automated run per (service, code) at a time, a cool-down after the last one
  (``[catalog] cooldown_seconds``) and a per-service rate (``[catalog] runs_per_hour``).
  The one-at-a-time guard is a lock in the store (:mod:`runbook.store.catalog_locks`), so
  it holds across concurrent webhooks and serve processes.
  Then the plan is made with caller ``catalog:RULE``, so a runbook that needs review is
  approved only by a standing approval for that caller whose bounds the values satisfy
  (planning checks it; one that needs no review runs as for any unattended caller). The
  run starts at once, in a thread, and is linked to the alert
  record as it is recorded. A guard that holds, a refused plan, or values that do not fit
  the runbook's parameters fall back to ``suggest``, and the record says why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import RunbookError, UnknownRunError
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.catalog.catalog import Procedure
from runbook.model.catalog.mapping import MappingError, render_mapping
from runbook.model.catalog.resolution import Resolution
from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.run import Run, RunState
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.standing_approvals import confirms_unattended
from runbook.orchestrate.worker_threads import in_worker_thread
from runbook.store.catalog_locks import release_auto_lock, take_auto_lock
from runbook.store.catalog_records import automated_since, is_paused
from runbook.store.catalog_tables import AlertRow
from runbook.store.runs import get_run

#: An automated run not linked to its alert this long after is no longer "in flight".
_IN_FLIGHT_WINDOW = timedelta(hours=6)


@dataclass(frozen=True)
class Answer:
    """What was done: the action, why in words, the plan made and the run's thread."""

    action: str
    detail: str
    plan_id: str | None = None
    run: threading.Thread | None = None


def mapped_values(
    rule: Procedure, alert: Alert, resolution: Resolution, service: dict[str, str]
) -> dict[str, str]:
    """The runbook's parameter values from the alert, through the rule's mapping."""
    return {
        name: render_mapping(
            text,
            labels=alert.labels,
            annotations=alert.annotations,
            service=service,
            code=resolution.code,
        )
        for name, text in rule.parameters.items()
    }


def answer_alert(
    sessions: sessionmaker[Session],
    repository: Repository,
    alert_id: str,
    alert: Alert,
    resolution: Resolution,
    *,
    now: datetime,
) -> Answer:
    """Apply the winner's policy and record what was done on the alert record."""
    rule = resolution.winner
    assert rule is not None and rule.runbook is not None  # noqa: S101 - caller checked
    also = f"; also: {', '.join(p.name for p in resolution.also)}" if resolution.also else ""
    service = {"name": resolution.service}
    try:
        values = mapped_values(rule, alert, resolution, service)
    except MappingError as error:
        return _record(sessions, alert_id, Answer("manual", f"{rule.name}: {error}{also}"))
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    if rule.policy == "manual":
        text = f"{rule.name}: run {rule.runbook}" + (f" with {shown}" if shown else "") + also
        return _record(sessions, alert_id, Answer("manual", text))
    why = ""
    if rule.policy == "auto":
        with sessions.begin() as session:
            held = _guard(session, repository, resolution, alert_id, now)
        if held is None:
            try:
                # Not sessions.begin(): recording a plan commits its own transaction.
                with sessions() as session:
                    plan = _plan(session, repository, rule, values, caller=rule.caller)
                    yes = confirms_unattended(session, plan)
            except RunbookError as error:  # StandingRefusedError among them
                why = f"not run automatically: {error}"
                _release(sessions, resolution, alert_id)
            else:
                answer = Answer("auto", f"{rule.name}: running plan {plan.id}{also}", plan.id)
                _record(sessions, alert_id, answer)
                thread = _start(sessions, repository, alert_id, plan, rule.caller, yes)
                return Answer(answer.action, answer.detail, plan.id, thread)
        else:
            why = f"not run automatically: {held}"
    return _record(sessions, alert_id, _suggest(sessions, repository, rule, values, why, also))


def _record(sessions: sessionmaker[Session], alert_id: str, answer: Answer) -> Answer:
    with sessions.begin() as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None  # noqa: S101 - the caller recorded it
        row.action, row.detail, row.plan_id = answer.action, answer.detail, answer.plan_id
    return answer


def _guard(
    session: Session, repository: Repository, resolution: Resolution, alert_id: str, now: datetime
) -> str | None:
    """Why an automated run may not start now (one line), or None: then ``alert_id`` holds
    the (service, code)'s automation lock (:mod:`runbook.store.catalog_locks`) when the
    transaction commits, so a concurrent alert for the pair finds it in flight."""
    if is_paused(session):
        return "automated response is paused (`runbook catalog resume`)"
    service, code = resolution.service, resolution.code
    holder = take_auto_lock(
        session,
        service=service,
        code=code,
        alert_id=alert_id,
        now=now,
        in_flight=lambda held_by, taken_at: _in_flight(session, held_by, taken_at, now),
    )
    if holder is not None:
        return f"an automated run for {service} {code} is in progress (alert {holder})"
    why = _limits(session, repository, resolution, now)
    if why is not None:
        release_auto_lock(session, service=service, code=code, alert_id=alert_id)
    return why


def _limits(
    session: Session, repository: Repository, resolution: Resolution, now: datetime
) -> str | None:
    """The cool-down and the per-service rate: why they hold (one line), or None."""
    config = repository.config
    recent = automated_since(
        session, service=resolution.service, code=resolution.code, since=now - _IN_FLIGHT_WINDOW
    )
    cooldown = timedelta(seconds=config.catalog_cooldown)
    if recent and recent[0].received_at > now - cooldown:
        return (
            f"cooling down: the last automated run for {resolution.service} "
            f"{resolution.code} was at {recent[0].received_at.isoformat()} "
            f"(cool-down {config.catalog_cooldown}s)"
        )
    hour = automated_since(session, service=resolution.service, since=now - timedelta(hours=1))
    if len(hour) >= config.catalog_rate_limit:
        return (
            f"rate limit: {len(hour)} automated runs for {resolution.service} in the last hour "
            f"(at most {config.catalog_rate_limit})"
        )
    return None


def _in_flight(session: Session, alert_id: str, taken_at: datetime, now: datetime) -> bool:
    """Whether the alert holding an automation lock still answers its pair: being answered
    (``received``) or ``auto`` with its run not yet recorded or still running."""
    if taken_at < now - _IN_FLIGHT_WINDOW:
        return False
    row = session.get(AlertRow, alert_id, populate_existing=True)
    if row is None or row.action not in ("received", "auto"):
        return False
    return row.action == "received" or row.run_id is None or _running(session, row.run_id)


def _release(sessions: sessionmaker[Session], resolution: Resolution, alert_id: str) -> None:
    with sessions.begin() as session:
        release_auto_lock(
            session, service=resolution.service, code=resolution.code, alert_id=alert_id
        )


def _running(session: Session, run_id: str) -> bool:
    try:
        return get_run(session, run_id).state is RunState.RUNNING
    except UnknownRunError:  # removed by retention: long finished
        return False


def _plan(
    session: Session,
    repository: Repository,
    rule: Procedure,
    values: dict[str, str],
    *,
    caller: str | None,
) -> Plan:
    assert rule.runbook is not None  # noqa: S101 - a suppressing rule never gets here
    path = repository.find_runbook(rule.runbook)
    return plan_runbook(session, repository, path, values, planner=rule.caller, caller=caller)


def _suggest(
    sessions: sessionmaker[Session],
    repository: Repository,
    rule: Procedure,
    values: dict[str, str],
    why: str,
    also: str,
) -> Answer:
    prefix = f"{why}; " if why else ""
    try:
        with sessions() as session:  # recording a plan commits its own transaction
            plan = _plan(session, repository, rule, values, caller=None)
    except RunbookError as error:
        return Answer("manual", f"{prefix}{rule.name}: no plan made: {error}{also}")
    told = _notify(repository, rule, plan)
    return Answer(
        "suggest", f"{prefix}{rule.name}: plan {plan.id} to review and run; {told}{also}", plan.id
    )


def _notify(repository: Repository, rule: Procedure, plan: Plan) -> str:
    """Tell the on-call about a suggested plan; what happened, in words."""
    import os

    from runbook.notify import NOTIFY_ENV, notify

    urls = list(repository.config.notify_urls)
    if not urls and not os.environ.get(NOTIFY_ENV, "").strip():
        return "nobody notified (no [notify] urls)"
    base = repository.config.catalog_base_url
    link = f"{base}/plans/{plan.id}" if base else f"`runbook review {plan.id}`"
    try:
        sent = notify(
            f"{rule.name} suggests plan {plan.id} ({plan.runbook_path}): review and run it: {link}",
            title=f"Runbook: {rule.name}",
            urls=urls or None,
            level="warning",
        )
    except (RunbookError, ValueError) as error:
        return f"notification failed: {error}"
    return "on-call notified" if sent else "notification not accepted"


def _start(
    sessions: sessionmaker[Session],
    repository: Repository,
    alert_id: str,
    plan: Plan,
    caller: str,
    yes: bool,
) -> threading.Thread:
    """Start the plan's run in a thread; the run is linked to the alert as it is recorded."""
    from runbook.engine.operators import AutomaticOperator
    from runbook.model.run import RunMode
    from runbook.orchestrate.running import RunRequest, start_run

    def link(session: Session, run: Run) -> None:
        row = session.get(AlertRow, alert_id)
        if row is not None:
            row.run_id = run.id

    def work() -> None:
        request = RunRequest(
            plan_id=plan.id,
            executor=caller,
            operator=AutomaticOperator(caller, yes=yes),
            mode=RunMode.AUTOMATIC,
            on_record=link,
        )
        try:
            in_worker_thread(lambda: start_run(sessions, repository, request))
        except RunbookError as error:  # recorded: the alert says the run did not happen
            with sessions.begin() as session:
                row = session.get(AlertRow, alert_id)
                if row is not None:  # no longer "auto": it holds no guard
                    row.action = "failed"
                    row.detail = f"{row.detail}; the run did not start: {error}"

    thread = threading.Thread(target=work, name=f"catalog-{alert_id}", daemon=True)
    thread.start()
    return thread
