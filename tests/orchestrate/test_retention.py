"""``runbook gc``: only finished records past their TTL go, with their folders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import ConfigError, UnknownRunError
from runbook.model.playbook import TargetState
from runbook.model.playbook_run import PlaybookRun, PlaybookRunState, TargetRecord
from runbook.model.repository import Repository, find_repository
from runbook.model.retention import RetentionPolicy, parse_retention, parse_ttl
from runbook.model.run import CellEvent, CellStatus, Run, RunMode, RunState
from runbook.model.workflow import load_workflows
from runbook.model.workflow_run import TriggerKind, WorkflowRun, WorkflowState
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.workflow_files import settings_for
from runbook.store.audit import list_events, verify_audit
from runbook.store.db import ensure_schema, make_engine
from runbook.store.plans import create_plan
from runbook.store.playbooks import (
    create_playbook_run,
    finish_playbook_run,
    list_playbook_runs,
    list_targets,
)
from runbook.store.runs import add_cell_event, create_run, finish_run, get_run, list_cell_events
from runbook.store.workflows import (
    create_workflow_run,
    finish_workflow_run,
    list_workflow_runs,
)
from tests.conftest import Result
from tests.store.conftest import _make_plan

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SPEC = load_workflows("workflows:\n  - name: w\n    notebooks:\n      t: {filename: t.ipynb}\n")


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def add_run(
    sessions: sessionmaker[Session], repo: Repository, run_id: str, ended_days_ago: float | None
) -> None:
    started = NOW - timedelta(days=(ended_days_ago or 0) + 1)
    with sessions.begin() as session:
        create_run(
            session,
            Run(
                id=run_id,
                plan_id="p-1",
                executor="alice",
                mode=RunMode.AUTOMATIC,
                state=RunState.RUNNING,
                started_at=started,
                notebook_path=f"runs/{run_id}/p-1.ipynb",
                lease_owner="elsewhere:1",
                heartbeat_at=started,
            ),
        )
        add_cell_event(
            session,
            CellEvent(run_id=run_id, cell_index=0, cell_type="code", status=CellStatus.SUCCEEDED),
        )
        if ended_days_ago is not None:
            finish_run(
                session, run_id, 1, RunState.SUCCEEDED, now=NOW - timedelta(days=ended_days_ago)
            )
    folder = repo.runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "p-1.ipynb").write_text("x" * 1000)


def add_workflow_run(
    sessions: sessionmaker[Session], repo: Repository, run_id: str, ended_days_ago: float
) -> None:
    with sessions.begin() as session:
        create_workflow_run(
            session,
            WorkflowRun(
                id=run_id,
                workflow="w",
                source="workflows/w.yml",
                spec=SPEC.workflows["w"],
                parameters={},
                trigger=TriggerKind.MANUAL,
                started_by="alice",
                state=WorkflowState.RUNNING,
                started_at=NOW - timedelta(days=ended_days_ago + 1),
            ),
            ["t"],
        )
        finish_workflow_run(
            session,
            run_id,
            WorkflowState.FAILED,
            keep_claim=False,
            now=NOW - timedelta(days=ended_days_ago),
        )
    (repo.runs_dir / run_id / "reports").mkdir(parents=True)
    (repo.runs_dir / run_id / "reports" / "t.html").write_text("report")


def add_playbook_run(sessions: sessionmaker[Session], run_id: str, ended_days_ago: float) -> None:
    started = NOW - timedelta(days=ended_days_ago + 1)
    with sessions.begin() as session:
        create_playbook_run(
            session,
            PlaybookRun(
                id=run_id,
                playbook="restart",
                revision=1,
                version="1",
                definition={},
                parameters={},
                started_by="alice",
                state=PlaybookRunState.RUNNING,
                started_at=started,
            ),
            [
                TargetRecord(
                    run_id=run_id,
                    name="web1",
                    address="web1",
                    vars={},
                    state=TargetState.PENDING,
                    position=0,
                )
            ],
            lock=False,
        )
        finish_playbook_run(
            session, run_id, PlaybookRunState.SUCCEEDED, now=NOW - timedelta(days=ended_days_ago)
        )


def configure(repo: Repository, retention: str) -> Repository:
    config = repo.root / "runbook.toml"
    text = config.read_text().split("\n[retention]\n")[0]
    config.write_text(text + f"\n[retention]\n{retention}\n")
    return find_repository(repo.root)


def test_gc_removes_only_finished_records_past_their_ttl(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, "old", ended_days_ago=20)
    add_run(sessions, repo, "recent", ended_days_ago=2)
    add_run(sessions, repo, "still-running", ended_days_ago=None)
    add_workflow_run(sessions, repo, "wf-old", ended_days_ago=40)
    add_workflow_run(sessions, repo, "wf-recent", ended_days_ago=5)
    add_playbook_run(sessions, "pb-old", ended_days_ago=8)
    add_playbook_run(sessions, "pb-recent", ended_days_ago=6)
    repo = configure(repo, 'runs = "10d"\nworkflow_runs = "30d"\nplaybook_runs = "1w"')

    preview = collect_garbage(
        sessions, repo, settings_for(repo), actor="ops", now=NOW, dry_run=True
    )
    expected = {"runs": ["old"], "workflow_runs": ["wf-old"], "playbook_runs": ["pb-old"]}
    assert preview.removed == expected
    assert (repo.runs_dir / "old").is_dir()  # a dry run removes nothing

    report = collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW)
    assert report.removed == expected
    assert report.folders == ["runs/old", "runs/wf-old"]
    assert report.bytes_freed == 1000 + len("report")
    assert not (repo.runs_dir / "old").exists() and not (repo.runs_dir / "wf-old").exists()
    assert (repo.runs_dir / "recent").is_dir() and (repo.runs_dir / "wf-recent").is_dir()
    with sessions.begin() as session:
        with pytest.raises(UnknownRunError):
            get_run(session, "old")
        assert list_cell_events(session, "old") == []  # cascaded
        assert get_run(session, "recent").state is RunState.SUCCEEDED
        assert get_run(session, "still-running").state is RunState.RUNNING
        assert [r.id for r in list_workflow_runs(session)] == ["wf-recent"]
        (event,) = list_events(session, subject="retention")
        assert event.payload["removed"] == expected
        assert [r.id for r in list_playbook_runs(session)] == ["pb-recent"]
        assert list_targets(session, "pb-old") == []
        assert verify_audit(session).ok

    again = collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW)
    assert again.total == 0


def test_without_a_ttl_nothing_is_removed(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, "ancient", ended_days_ago=3000)
    assert collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW).total == 0


def test_gc_command(
    repo: Repository, sessions: sessionmaker[Session], run_cli: Callable[..., Result]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, "old", ended_days_ago=400)
    configure(repo, 'runs = "1w"')
    dry = run_cli("gc", "--dry-run")
    assert dry.code == 0 and "would remove 1 run: old" in dry.out
    done = json.loads(run_cli("gc", "--json").out)
    assert done["removed"] == {"runs": ["old"]} and done["folders"] == ["runs/old"]
    assert run_cli("gc").out.startswith("nothing to remove")
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('runs = "1w"', 'runs = "forever"'))
    bad = run_cli("gc")
    assert bad.code == 1
    assert "retention.runs: 'forever' is not a duration" in bad.err


def test_durations() -> None:
    assert parse_ttl("36h", "x") == timedelta(hours=36)
    assert parse_ttl(" 2w ", "x") == timedelta(weeks=2)
    assert parse_retention({"runs": "90d"}, "r") == RetentionPolicy(runs=timedelta(days=90))
    for bad in ("90", "1y", "-1d", 90, "d"):
        with pytest.raises(ConfigError):
            parse_ttl(bad, "x")
    with pytest.raises(ConfigError, match="unknown key"):
        parse_retention({"plans": "1d"}, "r")
