"""Anchoring and verifying the audit log against a store an attacker can write to.

Every test runs on SQLite and PostgreSQL. The attacker has DDL rights on the database
(``tests.tamper`` drops the append-only triggers), but not the repository's anchor file
or git ref, unless the test says so.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import AuditTamperedError
from runbook.model.audit import AuditEvent, EventKind, run_subject
from runbook.model.audit_anchor import ANCHOR_REF, parse_anchor_file
from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.model.run import Run, RunMode, RunState
from runbook.orchestrate.audit_anchor import anchor_audit, anchor_file
from runbook.orchestrate.audit_verify import AuditVerdict, verify_audit_log
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.retention import collect_garbage
from runbook.orchestrate.reviewing import review_plan
from runbook.orchestrate.workflows.workflow_files import settings_for
from runbook.store.audit import append_event, list_events
from runbook.store.db import ensure_schema, make_engine, session_scope
from runbook.store.plans import create_plan
from runbook.store.runs import create_run, finish_run
from tests.orchestrate.test_retention import configure
from tests.store.conftest import _make_plan, store_url  # noqa: F401  (the fixture)
from tests.store.test_audit import write_runbook
from tests.tamper import rewrite_chain, tamper


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = make_engine(store_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


def make_plans(sessions: sessionmaker[Session], repo: Repository, count: int) -> list[Plan]:
    path = write_runbook(repo)
    plans = []
    with sessions() as session:
        for n in range(count):
            plans.append(plan_runbook(session, repo, path, {"host": f"db{n}"}, planner="alice"))
    return plans


def approve(sessions: sessionmaker[Session], repo: Repository, plan: Plan) -> None:
    with sessions() as session:
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob", comment="ok")


def record_run(
    sessions: sessionmaker[Session], plan: Plan, run_id: str, ended: datetime | None = None
) -> None:
    """A run recorded as ``runbook run`` records one (its execution left out)."""
    now = datetime.now(UTC)
    run = Run(
        id=run_id,
        plan_id=plan.id,
        executor="alice",
        mode=RunMode.AUTOMATIC,
        state=RunState.RUNNING,
        started_at=now,
        notebook_path=f"runs/{run_id}/{plan.id}.ipynb",
        lease_owner="test:1",
        heartbeat_at=now,
    )
    with sessions.begin() as session:
        create_run(session, run)
        payload = {
            "plan": plan.id,
            "plan_sha256": plan.sha256,
            "mode": "automatic",
            "start_cell": 0,
            "resumed_from": None,
            "rebuild": None,
        }
        append_event(
            session,
            kind=EventKind.RUN_STARTED,
            actor="alice",
            subject=run_subject(run_id),
            payload=payload,
        )
    with sessions.begin() as session:
        finish_run(session, run_id, 1, RunState.SUCCEEDED, now=ended)
        append_event(
            session,
            kind=EventKind.RUN_FINISHED,
            actor="alice",
            subject=run_subject(run_id),
            payload={"state": "succeeded", "message": None},
        )


def populate(sessions: sessionmaker[Session], repo: Repository) -> list[Plan]:
    """Three plans, the first approved and run twice: 7 events."""
    plans = make_plans(sessions, repo, 3)
    approve(sessions, repo, plans[0])
    record_run(sessions, plans[0], "r-1")
    return plans


def events(sessions: sessionmaker[Session]) -> list[AuditEvent]:
    with sessions() as session:
        return list_events(session)


def verify(sessions: sessionmaker[Session], repo: Repository) -> AuditVerdict:
    return verify_audit_log(sessions, repo)


def git(repo: Repository, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo.root, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


ANCHORS_IN = f".runbook/audit-anchor.json and {ANCHOR_REF}"


# -- the happy path ---------------------------------------------------------------------------


def test_an_anchored_log_verifies_and_the_anchor_is_in_the_file_and_on_the_ref(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    populate(sessions, repo)
    status = git(repo, "status", "--porcelain")
    result = anchor_audit(sessions, repo, reason="test")
    assert result.created and result.anchor is not None and result.warnings == []
    assert (result.anchor.event_id, result.anchor.count) == (6, 6)
    assert (result.file, result.ref) == (".runbook/audit-anchor.json", ANCHOR_REF)
    again = anchor_audit(sessions, repo, reason="again")
    assert not again.created and again.anchor == result.anchor  # nothing new to anchor

    (on_file,) = parse_anchor_file(anchor_file(repo).read_text(), "f")
    assert on_file == result.anchor
    on_ref = json.loads(git(repo, "show", f"{ANCHOR_REF}:anchor.json"))
    assert on_ref == result.anchor.to_json()
    assert "runbook audit anchor: event 6" in git(repo, "reflog", "show", ANCHOR_REF)
    # Plumbing only: no branch, index or work tree change, just the ref.
    assert git(repo, "status", "--porcelain") == status
    assert git(repo, "for-each-ref", "--format=%(refname)") == f"{ANCHOR_REF}\n"

    verdict = verify(sessions, repo)
    assert verdict.ok, verdict.findings
    assert (verdict.checked, verdict.records, verdict.anchors) == (6, 5, 1)
    assert verdict.anchor == result.anchor and verdict.notes == []


def test_an_empty_log_has_nothing_to_anchor_and_an_unanchored_one_says_so(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    result = anchor_audit(sessions, repo, reason="test")
    assert result.anchor is None and not anchor_file(repo).exists()
    make_plans(sessions, repo, 1)
    verdict = verify(sessions, repo)
    assert verdict.ok and verdict.anchor is None
    assert verdict.notes == ["the audit log has no anchor yet: `runbook audit anchor` makes one"]


def test_concurrent_anchors_and_appends_keep_the_file_and_the_ref_in_step(
    sessions: sessionmaker[Session], repo: Repository
) -> None:
    plans = make_plans(sessions, repo, 3)  # one each: a plan runs once at a time
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def anchorer(number: int) -> None:
        try:
            start.wait()
            for i in range(4):
                record_run(sessions, plans[number], f"r-{number}-{i}")
                anchor_audit(sessions, repo, reason=f"thread {number}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=anchorer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = verify(sessions, repo)
    assert verdict.ok, verdict.findings
    assert verdict.anchors == len(parse_anchor_file(anchor_file(repo).read_text(), "f"))


# -- the attacks of issue 9 -------------------------------------------------------------------


def test_a_wiped_log_fails_naming_the_anchor_and_every_record(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    plans = populate(sessions, repo)
    anchor_audit(sessions, repo, reason="test")
    tamper(engine, "DELETE FROM audit_events")
    verdict = verify(sessions, repo)
    assert not verdict.ok and verdict.checked == 0
    wiped = verdict.findings[0]
    assert wiped.startswith("the log is empty, but the anchor of ")
    assert f"(event 6, 6 events) in {ANCHORS_IN} says it held 6 events" in wiped
    for plan in plans:
        assert f"plan {plan.id} has no plan.created event in the log" in " ".join(verdict.findings)
    assert any(f.startswith("review 1 of plan") for f in verdict.findings)
    assert any(f.startswith("run r-1 has no run.started event") for f in verdict.findings)
    with pytest.raises(AuditTamperedError, match="the log was wiped; not anchored"):
        anchor_audit(sessions, repo, reason="cover it up")


def test_deleting_the_newest_events_fails_against_the_anchor(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    populate(sessions, repo)
    anchor_audit(sessions, repo, reason="test")
    tamper(engine, "DELETE FROM audit_events WHERE id > 3")
    verdict = verify(sessions, repo)
    assert verdict.findings[0].startswith("the log ends at event 3 (3 events), but the anchor of")
    assert "the newest events were deleted" in verdict.findings[0]
    with pytest.raises(AuditTamperedError, match="the log ends at event 3, before the anchor"):
        anchor_audit(sessions, repo, reason="cover it up")


def test_an_edited_event_with_every_later_hash_recomputed_fails_against_the_anchor(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    plans = populate(sessions, repo)
    anchor_audit(sessions, repo, reason="test")

    def retarget(event: AuditEvent) -> AuditEvent:
        payload = {**event.payload, "parameters": {**event.payload["parameters"], "host": "prod"}}
        return AuditEvent(**{**event.__dict__, "payload": payload})

    rewrite_chain(engine, 1, retarget)
    with sessions() as session:
        from runbook.store.audit import verify_audit

        assert verify_audit(session).ok  # the chain on its own is consistent
    verdict = verify(sessions, repo)
    assert verdict.first_bad_id is None
    rewritten = next(f for f in verdict.findings if f.startswith("event 6 has hash"))
    assert "but the anchor of" in rewritten and rewritten.endswith(
        "the log was rewritten at or before event 6"
    )
    assert (
        f"plan {plans[0].id} differs from its plan.created event 1: parameters is "
        '{"host": "db0", "password": "secret:password"} in the store, '
        '{"host": "prod", "password": "secret:password"} in the log'
    ) in verdict.findings
    with pytest.raises(AuditTamperedError, match="event 6 no longer matches the anchor"):
        anchor_audit(sessions, repo, reason="cover it up")


def test_a_flipped_review_verdict_is_named(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    plans = populate(sessions, repo)
    tamper(engine, "UPDATE reviews SET verdict = 'rejected', reviewer = 'mallory'")
    verdict = verify(sessions, repo)
    assert verdict.findings == [
        f"review 1 of plan {plans[0].id} differs from its review.recorded event 4: actor is "
        '"mallory" in the store, "bob" in the log; verdict is "rejected" in the store, '
        '"approved" in the log'
    ]


def test_records_without_events_or_events_without_records_are_named(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    plans = populate(sessions, repo)
    with sessions.begin() as session:
        create_plan(session, _make_plan("p-smuggled"))
    tamper(engine, "DELETE FROM reviews", "DELETE FROM runs")
    tamper(engine, "UPDATE plans SET state = 'approved' WHERE state = 'planned'")
    findings = verify(sessions, repo).findings
    assert "plan p-smuggled has no plan.created event in the log (the log lost it" in findings[0]
    assert any(
        f.startswith(f'plan {plans[1].id} is "approved" in the store, but its audit events say')
        for f in findings
    )
    assert (
        f'review.recorded event 4 (plan {plans[0].id}, "approved" by "bob") has no review '
        "record: the review was deleted from the store"
    ) in findings
    assert (
        "run r-1 has audit events (from event 5) but no record: it was deleted from the "
        "store outside `runbook gc`"
    ) in findings


def test_gc_deletes_no_event_and_its_removals_are_not_findings(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    plans = populate(sessions, repo)
    # A real run id: gc builds no path from an id that is not in its format.
    old_run = "20260101-000000-0a1b"
    record_run(sessions, plans[0], old_run, ended=datetime.now(UTC) - timedelta(days=30))
    before = len(events(sessions))
    repo = configure(repo, 'runs = "1w"')
    report = collect_garbage(sessions, repo, settings_for(repo), actor="ops")
    assert report.removed == {"runs": [old_run]} and report.warnings == []
    after = events(sessions)
    assert len(after) == before + 1 and after[-1].kind == "retention.gc"
    verdict = verify(sessions, repo)
    assert verdict.ok, verdict.findings
    assert verdict.anchor is not None and verdict.anchor.event_id == after[-1].id
    assert verdict.anchor.reason == "runbook gc"


# -- the anchors themselves -------------------------------------------------------------------


def test_the_file_and_the_ref_must_agree(sessions: sessionmaker[Session], repo: Repository) -> None:
    plans = populate(sessions, repo)
    anchor_audit(sessions, repo, reason="first")
    first_file = anchor_file(repo).read_text()
    record_run(sessions, plans[0], "r-2")
    anchor_audit(sessions, repo, reason="second")

    # The file rolled back (or replaced by the attacker's own): the ref holds more.
    second_file = anchor_file(repo).read_text()
    anchor_file(repo).write_text(first_file)
    (finding,) = verify(sessions, repo).findings
    assert finding.startswith(f"the anchor file lacks the newest 1 of the git ref {ANCHOR_REF}'s")
    with pytest.raises(AuditTamperedError, match="the anchor file lacks the newest 1"):
        anchor_audit(sessions, repo, reason="cover it up")

    # The ref behind the file (a process killed between the two writes): named, and the
    # next anchor brings the ref up.
    anchor_file(repo).write_text(second_file)
    git(repo, "update-ref", ANCHOR_REF, f"{ANCHOR_REF}~1")
    (finding,) = verify(sessions, repo).findings
    assert finding.startswith(f"the git ref {ANCHOR_REF} lacks the newest 1 of the anchor file's")
    result = anchor_audit(sessions, repo, reason="repair")
    assert not result.created and result.ref == ANCHOR_REF
    assert verify(sessions, repo).ok

    # A garbled file is named, and anchoring refuses to write over it.
    anchor_file(repo).write_text("{not json")
    assert verify(sessions, repo).findings[0].startswith(".runbook/audit-anchor.json: not JSON")
    with pytest.raises(AuditTamperedError, match=r"audit-anchor\.json: not JSON"):
        anchor_audit(sessions, repo, reason="x")
    assert anchor_file(repo).read_text() == "{not json"


def test_outside_git_the_file_alone_anchors(
    sessions: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    from runbook.model.repository import find_repository
    from runbook.orchestrate.initialize import init_repository

    init_repository(tmp_path / "plain")
    subprocess.run(["rm", "-rf", str(tmp_path / "plain" / ".git")], check=True)
    repo = find_repository(tmp_path / "plain")
    populate(sessions, repo)
    result = anchor_audit(sessions, repo, reason="test")
    assert result.created and result.ref is None
    tamper(engine, "DELETE FROM audit_events WHERE id > 4")
    verdict = verify(sessions, repo)
    assert verdict.ref is None
    assert "(event 6, 6 events) in .runbook/audit-anchor.json, but" not in verdict.findings[0]
    assert (
        "(event 6, 6 events) in .runbook/audit-anchor.json recorded event 6"
        in (verdict.findings[0])
    )


def test_what_is_not_detected_events_after_the_last_anchor_that_no_record_repeats(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    populate(sessions, repo)
    anchor_audit(sessions, repo, reason="test")
    (late,) = make_plans(sessions, repo, 1)  # event 7, after the anchor: its record repeats it
    with sessions.begin() as session:
        append_event(
            session,
            kind=EventKind.CELL_FINISHED,
            actor="alice",
            subject=run_subject("r-1"),
            payload={"cell": 9, "status": "succeeded"},
        )
    # Cutting off the tail after the anchor, where no record repeats the events cut off:
    # documented in the README as not detected.
    tamper(engine, "DELETE FROM audit_events WHERE kind = 'cell.finished'")
    assert verify(sessions, repo).ok
    # Cutting off an event a record repeats is detected by the record.
    tamper(engine, "DELETE FROM audit_events WHERE id > 6")
    (finding,) = verify(sessions, repo).findings
    assert finding.startswith(f"plan {late.id} has no plan.created event in the log")
    with session_scope(engine) as session:
        assert len(list_events(session)) == 6


# -- the real use cases record what the cross-check expects, and anchor when they end ---------


def test_a_playbook_run_anchors_when_it_ends_and_matches_its_events(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    from tests.orchestrate.playbooks.test_fleet import playbook, run_playbook

    run, _ = run_playbook(sessions, repo, playbook(targets=["web1", "web2"]))
    verdict = verify(sessions, repo)
    assert verdict.ok, verdict.findings
    assert verdict.anchor is not None
    assert verdict.anchor.reason == f"playbook run {run.id} finished"
    assert verdict.anchor.event_id == events(sessions)[-1].id
    tamper(engine, "UPDATE playbook_runs SET state = 'failed', started_by = 'mallory'")
    assert verify(sessions, repo).findings == [
        f'playbook run {run.id} differs from its playbook.started event 1: actor is "mallory" '
        'in the store, "alice" in the log',
        f'playbook run {run.id} is "failed" in the store, but its audit events say "succeeded"',
    ]


@pytest.mark.kernel
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_workflow_run_and_its_task_runs_anchor_and_match_their_events(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    from runbook.orchestrate.workflows.dag import start_workflow
    from tests.orchestrate.workflows.test_dag import notebook, request

    text = "workflows:\n  - name: flows\n    notebooks:\n      hello: {filename: hello.ipynb}\n"
    (repo.root / "workflows" / "flows.yml").write_text(text)
    notebook(repo.root / "workflows" / "hello.ipynb", "x = 1", "print('hello', x)")
    run = start_workflow(sessions, repo, settings_for(repo), request(repo, text, "flows"))
    assert run is not None
    assert run.state.value == "succeeded"
    verdict = verify(sessions, repo)
    assert verdict.ok, verdict.findings
    assert verdict.records == 3  # the workflow run, its task's plan and the task's run
    assert verdict.anchor is not None
    assert verdict.anchor.reason == f"workflow run {run.id} finished"
    reasons = [a.reason for a in parse_anchor_file(anchor_file(repo).read_text(), "f")]
    assert reasons[0].startswith("run ") and reasons[0].endswith(" finished")
    tamper(engine, 'UPDATE workflow_runs SET parameters = \'{"region": "x"}\'')
    (finding,) = verify(sessions, repo).findings
    assert finding.startswith(f"workflow run {run.id} differs from its workflow.started event")


def test_each_repository_and_worktree_sharing_a_git_repository_has_its_own_ref(
    tmp_path: Path,
) -> None:
    from runbook.orchestrate.audit_git import anchor_ref
    from runbook.orchestrate.initialize import init_repository

    top = tmp_path / "top"
    init_repository(top)
    init_repository(top / "sub")  # inside top's git repository: no git init of its own
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        cwd=top,
        check=True,
    )
    subprocess.run(["git", "worktree", "add", "-q", str(tmp_path / "other")], cwd=top, check=True)
    refs = [anchor_ref(path) for path in (top, top / "sub", tmp_path / "other")]
    assert refs[0] is not None and refs[0].name == ANCHOR_REF
    names = {ref.name for ref in refs if ref}
    assert len(names) == 3 and all(name.startswith(ANCHOR_REF) for name in names)
    assert anchor_ref(tmp_path) is None  # not in git


def test_a_widened_or_unrevoked_standing_approval_is_named(
    sessions: sessionmaker[Session], engine: Engine, repo: Repository
) -> None:
    from runbook.model.standing import parse_bound
    from runbook.orchestrate.standing_approvals import approve_standing, revoke
    from tests.orchestrate.test_planning import make_runbook

    make_runbook(repo, tags=["critical"])
    with sessions() as session:
        kept = approve_standing(
            session,
            repo,
            "restart",
            reviewer="bob",
            callers=["workflow:nightly"],
            bounds=dict([parse_bound("host=web1"), parse_bound("port=1..99")]),
            lifetime=timedelta(days=30),
        )
        revoked = approve_standing(
            session,
            repo,
            "restart",
            reviewer="bob",
            callers=["workflow:nightly"],
            bounds=dict([parse_bound("host=web2"), parse_bound("port=*")]),
            lifetime=timedelta(days=30),
        )
        revoke(session, revoked.id, by="carol")
    assert verify(sessions, repo).findings == []
    widened = json.dumps({"kind": "any", "values": [], "low": None, "high": None})
    # The statements name ids this test made: no outside value reaches them.
    sqlite_widen = "UPDATE standing_approvals SET bounds = json_set(bounds, '$.host', json('{}')) "
    postgres_widen = (
        "UPDATE standing_approvals SET bounds = "
        "jsonb_set(bounds::jsonb, '{{host}}', '{}'::jsonb)::json "
    )
    widen = sqlite_widen if engine.dialect.name == "sqlite" else postgres_widen
    tamper(
        engine,
        widen.format(widened) + f"WHERE id = '{kept.id}'",
        f"UPDATE standing_approvals SET revoked_at = NULL WHERE id = '{revoked.id}'",  # noqa: S608
    )
    findings = verify(sessions, repo).findings
    assert any(
        f.startswith(f"standing approval {kept.id} differs from its standing.approved event")
        and 'bounds is {"host": "*"' in f
        for f in findings
    ), findings
    assert (
        f'standing approval {revoked.id} is "approved" in the store, but its audit events say '
        '"revoked"'
    ) in findings
