from __future__ import annotations

from datetime import UTC, datetime, timedelta

import nbformat

from runbook.model.report_record import GateDecision, ReportRecord, ReviewLine, SignatureStatus
from runbook.model.repository import Repository
from runbook.model.review import IdentityKind, Verdict
from runbook.model.run import (
    CellEvent,
    CellStatus,
    Decision,
    Run,
    RunMode,
    RunState,
    event_from_json,
    event_to_json,
    run_from_json,
    run_to_json,
)
from runbook.orchestrate.reporting import ReportWriter

STARTED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _run() -> Run:
    return Run(
        id="20261123-120000-abcd",
        plan_id="p-1",
        executor="alice",
        mode=RunMode.AUTOMATIC,
        state=RunState.SUCCEEDED,
        started_at=STARTED,
        notebook_path="runs/20261123-120000-abcd/p-1.ipynb",
        lease_owner="h:1",
        ended_at=STARTED + timedelta(seconds=3),
        message="done",
    )


def _events() -> list[CellEvent]:
    return [
        CellEvent(
            run_id="20261123-120000-abcd",
            cell_index=0,
            cell_type="code",
            status=CellStatus.SUCCEEDED,
            tags=("confirm",),
            decision=Decision.YES,
            decided_by="alice",
            started_at=STARTED,
            ended_at=STARTED + timedelta(seconds=1),
        )
    ]


def _notebook() -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('restarted')", metadata={"tags": ["confirm"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="restarted\n")]
    notebook.cells.append(cell)
    return notebook


def test_runs_and_events_survive_the_trip_to_the_worker() -> None:
    assert run_from_json(run_to_json(_run())) == _run()
    assert [event_from_json(event_to_json(e)) for e in _events()] == _events()


def test_the_worker_writes_the_report(repo: Repository) -> None:
    written, warnings = ReportWriter(repo).write(_run(), _events(), _notebook())
    assert written == ["runs/20261123-120000-abcd/report.html"] and warnings == []
    report = (repo.root / written[0]).read_text()
    assert "restarted" in report and "confirmed" in report


def test_without_a_worker_the_report_is_written_here(repo: Repository) -> None:
    writer = ReportWriter(repo)
    assert writer._worker is not None
    writer._worker.kill()
    writer._worker.wait()
    written, warnings = writer.write(_run(), _events(), _notebook())
    assert written == ["runs/20261123-120000-abcd/report.html"] and warnings == []


def _record() -> ReportRecord:
    return ReportRecord(
        plan_id="p-1",
        runbook="runbooks/restart.ipynb",
        title="Restart",
        planned_by="bob",
        planned_at=STARTED - timedelta(hours=1),
        plan_sha256="c0ffee" * 10 + "c0de",
        parameters={"host": "db1"},
        review_required=True,
        reviews=(
            ReviewLine(
                "carol",
                Verdict.APPROVED,
                STARTED - timedelta(minutes=5),
                "<i>ok</i>",
                IdentityKind.SSH_KEY,
                SignatureStatus.INVALID,
                "SHA256:abc",
            ),
        ),
        decisions=(GateDecision(0, Decision.YES, "alice", STARTED),),
    )


def test_the_worker_writes_the_plan_and_approval_it_is_handed(repo: Repository) -> None:
    written, warnings = ReportWriter(repo).write(_run(), _events(), _notebook(), _record())
    assert warnings == []
    report = (repo.root / written[0]).read_text()
    assert f"<th>Plan sha256</th><td>{'c0ffee' * 10}c0de</td>" in report
    assert "<td>carol</td><td>approved</td>" in report and "<td>INVALID</td>" in report
    assert "<td>&lt;i&gt;ok&lt;/i&gt;</td>" in report


def test_without_a_worker_the_record_is_written_here_too(repo: Repository) -> None:
    writer = ReportWriter(repo)
    assert writer._worker is not None
    writer._worker.kill()
    writer._worker.wait()
    written, _ = writer.write(_run(), _events(), _notebook(), _record())
    assert "<th>Planned by</th><td>bob</td>" in (repo.root / written[0]).read_text()
