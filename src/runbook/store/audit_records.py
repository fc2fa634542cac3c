"""What the store's records say, for checking them against the audit log.

Only the columns the audit events repeat are read (not a plan's content, a workflow's
frozen definition or a playbook run's targets), so that a store of many records is checked
in little memory. See :mod:`runbook.model.audit_records` for what is compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.model.audit import standing_subject
from runbook.model.audit_facts import (
    RecordFacts,
    RecordKind,
    plan_facts,
    review_facts,
    run_facts,
    started_run_facts,
)
from runbook.store.standing import list_standing
from runbook.store.tables import PlanRow, PlaybookRunRow, ReviewRow, RunRow, WorkflowRunRow


def record_facts(session: Session) -> Iterator[RecordFacts]:
    """The facts of every plan, review (in id order), run, workflow run and playbook run."""
    # Columns are labelled with the facts functions' keyword names.
    plans = select(
        PlanRow.id.label("plan_id"),
        PlanRow.runbook_path,
        PlanRow.sha256,
        PlanRow.parameters,
        PlanRow.planned_by,
        PlanRow.planned_at,
        PlanRow.review_required,
        PlanRow.state,
        PlanRow.review_rules,
        PlanRow.standing_approval,
    ).order_by(PlanRow.id)
    for row in session.execute(plans):
        yield plan_facts(**row._mapping)
    reviews = select(
        ReviewRow.id.label("review_id"),
        ReviewRow.plan_id,
        ReviewRow.verdict,
        ReviewRow.reviewer,
        ReviewRow.plan_sha256,
        ReviewRow.comment,
        ReviewRow.reviewed_at,
        ReviewRow.identity_kind,
        ReviewRow.signature,
        ReviewRow.nonce,
        ReviewRow.signer_key,
    ).order_by(ReviewRow.id)
    for row in session.execute(reviews):
        yield review_facts(**row._mapping)
    runs = select(
        RunRow.id.label("run_id"),
        RunRow.plan_id,
        RunRow.executor,
        RunRow.mode,
        RunRow.start_cell,
        RunRow.resumed_from,
        RunRow.state,
    ).order_by(RunRow.id)
    for row in session.execute(runs):
        yield run_facts(**row._mapping)
    yield from _workflow_runs(session)
    yield from _playbook_runs(session)
    yield from _standing_approvals(session)


def _standing_approvals(session: Session) -> Iterator[RecordFacts]:
    for approval in list_standing(session):
        yield RecordFacts(
            kind=RecordKind.STANDING,
            id=approval.id,
            subject=standing_subject(approval.id),
            actor=approval.approved_by,
            at=approval.approved_at,
            payload=approval.event_payload(),
            state="revoked" if approval.revoked_at is not None else "approved",
        )


def _workflow_runs(session: Session) -> Iterator[RecordFacts]:
    for run in session.execute(
        select(
            WorkflowRunRow.id,
            WorkflowRunRow.workflow,
            WorkflowRunRow.source,
            WorkflowRunRow.trigger,
            WorkflowRunRow.parameters,
            WorkflowRunRow.reference_date,
            WorkflowRunRow.resumed_from,
            WorkflowRunRow.started_by,
            WorkflowRunRow.state,
        ).order_by(WorkflowRunRow.id)
    ):
        yield started_run_facts(
            RecordKind.WORKFLOW_RUN,
            run_id=run.id,
            started_by=run.started_by,
            state=run.state,
            payload={
                "workflow": run.workflow,
                "source": run.source,
                "trigger": run.trigger,
                "parameters": run.parameters,
                "reference_date": run.reference_date.isoformat() if run.reference_date else None,
                "resumed_from": run.resumed_from,
            },
        )


def _playbook_runs(session: Session) -> Iterator[RecordFacts]:
    for run in session.execute(
        select(
            PlaybookRunRow.id,
            PlaybookRunRow.playbook,
            PlaybookRunRow.revision,
            PlaybookRunRow.version,
            PlaybookRunRow.parameters,
            PlaybookRunRow.retry_of,
            PlaybookRunRow.plan_id,
            PlaybookRunRow.started_by,
            PlaybookRunRow.state,
        ).order_by(PlaybookRunRow.id)
    ):
        yield started_run_facts(
            RecordKind.PLAYBOOK_RUN,
            run_id=run.id,
            started_by=run.started_by,
            state=run.state,
            payload={
                "playbook": run.playbook,
                "revision": run.revision,
                "version": run.version,
                "parameters": run.parameters,
                "retry_of": run.retry_of,
                "plan": run.plan_id,
            },
        )


def store_label(session: Session, root: Path) -> str:
    """The store as anchors name it: its URL without password, driver or query.

    A SQLite file inside the repository is named by its path relative to the repository,
    so that the anchors stay valid when the repository folder is moved.
    """
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or ":memory:")
        try:
            shown = database.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            shown = str(database)
        return f"sqlite:{shown}"
    bare = url.set(drivername=url.get_backend_name(), query={}, password=None)
    return bare.render_as_string(hide_password=True)
