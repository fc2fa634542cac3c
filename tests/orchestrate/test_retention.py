"""``runbook gc``: only finished records past their TTL go, with their folders."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import ConfigError, UnknownRunError
from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import PlaybookRun, PlaybookRunState, TargetRecord
from runbook.model.repository import Repository, find_repository
from runbook.model.retention import RetentionPolicy, parse_retention, parse_ttl
from runbook.model.run import CellEvent, CellStatus, Run, RunMode, RunState
from runbook.model.workflows.workflow import load_workflows
from runbook.model.workflows.workflow_run import TriggerKind, WorkflowRun, WorkflowState
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.workflows.workflow_files import settings_for
from runbook.store.audit import list_events, verify_audit
from runbook.store.db import ensure_schema, make_engine
from runbook.store.plans import create_plan
from runbook.store.playbooks.playbook_runs import (
    create_playbook_run,
    finish_playbook_run,
    list_playbook_runs,
    list_targets,
)
from runbook.store.runs import add_cell_event, create_run, finish_run, get_run, list_cell_events
from runbook.store.workflows.workflow_runs import (
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


# Ids in the formats Runbook generates: gc refuses to build a path from anything else.
OLD, RECENT, RUNNING = "20261101-000000-0001", "20261120-000000-0002", "20261123-000000-0003"
WF_OLD, WF_RECENT = "wf-20261001-000000-0001", "wf-20261118-000000-0002"
PB_OLD, PB_RECENT = "pb-20261115-000000-0001", "pb-20261117-000000-0002"


def add_run(
    sessions: sessionmaker[Session], repo: Repository, run_id: str, ended_days_ago: float | None
) -> None:
    _add_record(sessions, run_id, ended_days_ago)
    folder = repo.runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "p-1.ipynb").write_text("x" * 1000)


def _add_record(sessions: sessionmaker[Session], run_id: str, ended_days_ago: float | None) -> None:
    """A run record only: with a hostile id, making its folder would be the attack itself."""
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


def add_workflow_run(
    sessions: sessionmaker[Session],
    repo: Repository,
    run_id: str,
    ended_days_ago: float,
    *,
    folder: bool = True,
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
            1,
            WorkflowState.FAILED,
            keep_claim=False,
            now=NOW - timedelta(days=ended_days_ago),
        )
    if folder:
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
            session,
            run_id,
            1,
            PlaybookRunState.SUCCEEDED,
            now=NOW - timedelta(days=ended_days_ago),
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
    add_run(sessions, repo, OLD, ended_days_ago=20)
    add_run(sessions, repo, RECENT, ended_days_ago=2)
    add_run(sessions, repo, RUNNING, ended_days_ago=None)
    add_workflow_run(sessions, repo, WF_OLD, ended_days_ago=40)
    add_workflow_run(sessions, repo, WF_RECENT, ended_days_ago=5)
    add_playbook_run(sessions, PB_OLD, ended_days_ago=8)
    add_playbook_run(sessions, PB_RECENT, ended_days_ago=6)
    repo = configure(repo, 'runs = "10d"\nworkflow_runs = "30d"\nplaybook_runs = "1w"')

    preview = collect_garbage(
        sessions, repo, settings_for(repo), actor="ops", now=NOW, dry_run=True
    )
    expected = {"runs": [OLD], "workflow_runs": [WF_OLD], "playbook_runs": [PB_OLD]}
    assert preview.removed == expected
    assert (repo.runs_dir / OLD).is_dir()  # a dry run removes nothing

    report = collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW)
    assert report.removed == expected
    assert report.folders == [f"runs/{OLD}", f"runs/{WF_OLD}"]
    assert report.bytes_freed == 1000 + len("report")
    assert not (repo.runs_dir / OLD).exists() and not (repo.runs_dir / WF_OLD).exists()
    assert (repo.runs_dir / RECENT).is_dir() and (repo.runs_dir / WF_RECENT).is_dir()
    with sessions.begin() as session:
        with pytest.raises(UnknownRunError):
            get_run(session, OLD)
        assert list_cell_events(session, OLD) == []  # cascaded
        assert get_run(session, RECENT).state is RunState.SUCCEEDED
        assert get_run(session, RUNNING).state is RunState.RUNNING
        assert [r.id for r in list_workflow_runs(session)] == [WF_RECENT]
        (event,) = list_events(session, subject="retention")
        assert event.payload["removed"] == expected
        assert [r.id for r in list_playbook_runs(session)] == [PB_RECENT]
        assert list_targets(session, PB_OLD) == []
        assert verify_audit(session).ok

    again = collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW)
    assert again.total == 0


def test_without_a_ttl_nothing_is_removed(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, OLD, ended_days_ago=3000)
    assert collect_garbage(sessions, repo, settings_for(repo), actor="ops", now=NOW).total == 0


def test_gc_command(
    repo: Repository, sessions: sessionmaker[Session], run_cli: Callable[..., Result]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, OLD, ended_days_ago=400)
    configure(repo, 'runs = "1w"')
    dry = run_cli("gc", "--dry-run")
    assert dry.code == 0 and f"would remove 1 run: {OLD}" in dry.out
    done = json.loads(run_cli("gc", "--json").out)
    assert done["removed"] == {"runs": [OLD]} and done["folders"] == [f"runs/{OLD}"]
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


HOSTILE_IDS = ["../../victim", "../runbooks", "/tmp/victim", "..", ".", "plans", "a/../../b"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_run_id_in_the_store_is_skipped_and_reported_never_followed(
    repo: Repository, sessions: sessionmaker[Session], run_cli: Callable[..., Result], hostile: str
) -> None:
    victim = repo.root.parent / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "precious").write_text("keep me")
    (repo.runbooks_dir / "keep.ipynb").write_text("{}")
    repo.plans_dir.mkdir(parents=True)
    (repo.plans_dir / "keep.ipynb").write_text("{}")
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, OLD, ended_days_ago=400)
    _add_record(sessions, hostile, ended_days_ago=400)
    configure(repo, 'runs = "1w"')

    for args in (("gc", "--dry-run"), ("gc",)):
        result = run_cli(*args)
        assert result.code == 0, result.err
        assert f"skipped run {hostile!r}: is not a run id" in result.out
    dry = json.loads(run_cli("gc", "--dry-run", "--json").out)
    assert dry["removed"] == {} and dry["skipped"] == [
        {
            "kind": "runs",
            "id": hostile,
            "reason": f"{hostile!r}: is not a run id (such as 20261123-120000-abcd)",
        }
    ]
    assert (victim / "precious").read_text() == "keep me"
    assert (repo.runbooks_dir / "keep.ipynb").is_file()
    assert (repo.plans_dir / "keep.ipynb").is_file()
    assert not (repo.runs_dir / OLD).exists()
    with sessions.begin() as session:
        assert get_run(session, hostile).state is RunState.SUCCEEDED  # kept, not followed
        with pytest.raises(UnknownRunError):
            get_run(session, OLD)


def test_hostile_workflow_and_playbook_run_ids_and_symlinked_folders_are_never_followed(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    victim = repo.root.parent / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_workflow_run(sessions, repo, "../../victim", ended_days_ago=40, folder=False)
    add_playbook_run(sessions, "../runbooks", ended_days_ago=40)
    _add_record(sessions, OLD, ended_days_ago=40)
    # A run folder that is a link, even to a place inside the repository, is not followed.
    (repo.runs_dir / OLD).symlink_to(repo.runbooks_dir, target_is_directory=True)
    (repo.runbooks_dir / "keep.ipynb").write_text("{}")
    repo = configure(repo, 'runs = "1d"\nworkflow_runs = "1d"\nplaybook_runs = "1d"')

    report = collect_garbage(sessions, repo, settings_for(repo), actor="ops")
    assert report.removed == {}
    assert sorted((s.kind, s.id) for s in report.skipped) == [
        ("playbook_runs", "../runbooks"),
        ("runs", OLD),
        ("workflow_runs", "../../victim"),
    ]
    assert any("is a link; refusing to follow it" in s.reason for s in report.skipped)
    assert (victim / "precious").is_file() and (repo.runbooks_dir / "keep.ipynb").is_file()
    assert (repo.runs_dir / OLD).is_symlink()
    with sessions.begin() as session:
        assert get_run(session, OLD).state is RunState.SUCCEEDED  # kept, and said so
        assert [r.id for r in list_workflow_runs(session)] == ["../../victim"]
        assert [r.id for r in list_playbook_runs(session)] == ["../runbooks"]


# Runs `runbook gc` in a real process that dies (as by kill -9) when it reaches ``point``.
_CRASHING_GC = """
import os, sys
import runbook.orchestrate.retention as retention
from runbook.cli import main
def die(*args, **kwargs):
    os._exit(137)
setattr(retention, sys.argv[1], die)
main(["gc"])
"""


def _gc_killed_at(repo: Repository, point: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CRASHING_GC, point],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 137, done.stderr


def test_a_gc_killed_before_its_records_went_is_undone_by_the_next_gc(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, OLD, ended_days_ago=400)
    configure(repo, 'runs = "1w"')
    _gc_killed_at(repo, "delete_records")  # the folder is in the trash, the record is not gone
    assert not (repo.runs_dir / OLD).exists() and (repo.runs_dir / ".trash" / OLD).is_dir()

    # Meanwhile the TTL grew: the next gc puts the folder back, beside its record.
    repo = configure(repo, 'runs = "10000d"')
    assert collect_garbage(sessions, repo, settings_for(repo), actor="ops").total == 0
    assert (repo.runs_dir / OLD / "p-1.ipynb").is_file()
    assert list((repo.runs_dir / ".trash").iterdir()) == []
    with sessions.begin() as session:
        assert get_run(session, OLD).state is RunState.SUCCEEDED


def test_a_gc_killed_after_its_records_went_is_finished_by_the_next_gc(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-1"))
    add_run(sessions, repo, OLD, ended_days_ago=400)
    add_run(sessions, repo, RUNNING, ended_days_ago=None)
    configure(repo, 'runs = "1w"')
    _gc_killed_at(repo, "_discard")  # the record is gone, its folder still in the trash
    with sessions.begin() as session, pytest.raises(UnknownRunError):
        get_run(session, OLD)
    assert (repo.runs_dir / ".trash" / OLD).is_dir()

    report = collect_garbage(sessions, repo, settings_for(repo), actor="ops")
    assert report.total == 0 and report.folders == [f"runs/{OLD}"]
    assert report.bytes_freed == 1000
    assert not (repo.runs_dir / ".trash" / OLD).exists() and not (repo.runs_dir / OLD).exists()
    assert (repo.runs_dir / RUNNING).is_dir()
