"""``runbook audit log`` and ``runbook audit verify`` end to end, tampering included."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from runbook.config import database_url
from runbook.model.repository import Repository
from runbook.store.db import make_engine
from tests.builders import write_runbook
from tests.cli.process import runbook
from tests.conftest import Result
from tests.tamper import tamper

Cli = Callable[..., Result]


def tamper_store(repo: Repository, *statements: str) -> None:
    """Change the repository's store as an attacker with database access would."""
    engine = make_engine(database_url(repo.root, repo.config.store_url))
    try:
        tamper(engine, *statements)
    finally:
        engine.dispose()


def plan_and_review(run_cli: Cli) -> str:
    assert run_cli("create", "Restart database").code == 0
    planned = run_cli(
        "plan", "runbooks/restart-database.ipynb", "-p", "host", "db1", "--as", "alice", "--json"
    )
    assert planned.code == 0, planned.err
    plan_id: str = json.loads(planned.out)["id"]
    reviewed = run_cli("review", plan_id, "--approve", "--quiet", "--as", "bob", "-m", "lgtm")
    assert reviewed.code == 0, reviewed.err
    return plan_id


def test_log_shows_the_plan_and_review_events(run_cli: Cli) -> None:
    plan_id = plan_and_review(run_cli)
    shown = run_cli("audit", "log", "--json")
    assert shown.code == 0, shown.err
    events = json.loads(shown.out)
    assert [(e["id"], e["kind"], e["actor"]) for e in events] == [
        (1, "plan.created", "alice"),
        (2, "review.recorded", "bob"),
    ]
    assert {e["subject"] for e in events} == {f"plan:{plan_id}"}
    assert events[0]["payload"]["parameters"] == {"host": "db1", "dry_run": False}
    assert events[1]["payload"]["verdict"] == "approved"
    assert events[1]["prev_hash"] == events[0]["hash"]

    table = run_cli("audit", "log")
    assert table.code == 0, table.err
    assert "plan.created" in table.out and "review.recorded" in table.out
    assert "verdict=approved" in table.out

    latest = json.loads(run_cli("audit", "log", "--plan", plan_id, "-n", "1", "--json").out)
    assert [e["kind"] for e in latest] == ["review.recorded"]
    assert json.loads(run_cli("audit", "log", "--run", "nope", "--json").out) == []
    assert "no audit events for run:nope" in run_cli("audit", "log", "--run", "nope").out
    both = run_cli("audit", "log", "--run", "r", "--plan", plan_id)
    assert both.code == 2 and "not both" in both.err


def test_verify_passes_then_names_the_tampered_event(run_cli: Cli, repo: Repository) -> None:
    plan_id = plan_and_review(run_cli)
    intact = run_cli("audit", "verify")
    assert intact.code == 0, intact.err
    assert intact.out.splitlines() == [
        "audit log intact: 2 events",
        "checked against 2 records and 0 anchors (none yet)",
        "the audit log has no anchor yet: `runbook audit anchor` makes one",
    ]
    assert json.loads(run_cli("audit", "verify", "--json").out) == {
        "ok": True,
        "checked": 2,
        "first_bad_id": None,
        "reason": "",
        "findings": [],
        "records": 2,
        "anchors": 0,
        "anchor": None,
        "ref": "refs/runbook/audit-anchor",
        "notes": ["the audit log has no anchor yet: `runbook audit anchor` makes one"],
    }

    tamper_store(
        repo,
        "UPDATE audit_events SET payload = json_set(payload, '$.verdict', 'rejected') "
        "WHERE kind = 'review.recorded'",
    )

    tampered = run_cli("audit", "verify")
    assert tampered.code == 1
    assert tampered.err.splitlines() == [
        "runbook: error: audit log: event 2 was altered (its hash does not match its content)",
        f'runbook: error: audit log: plan {plan_id} is "approved" in the store, but its '
        'audit events say "rejected"',
        f"runbook: error: audit log: review 1 of plan {plan_id} differs from its "
        'review.recorded event 2: verdict is "approved" in the store, "rejected" in the log',
    ]
    report = run_cli("audit", "verify", "--json")
    assert report.code == 1 and report.err.count("\n") == 3
    assert json.loads(report.out)["first_bad_id"] == 2


def test_anchor_then_a_wiped_log_fails_with_one_line_per_finding(
    run_cli: Cli, repo: Repository
) -> None:
    plan_id = plan_and_review(run_cli)
    anchored = run_cli("audit", "anchor")
    assert anchored.code == 0, anchored.err
    assert anchored.out.strip() == (
        "anchored the audit log at event 2 (2 events) in .runbook/audit-anchor.json and "
        "refs/runbook/audit-anchor"
    )
    again = json.loads(run_cli("audit", "anchor", "--json").out)
    assert again["anchored"] is False and again["anchor"]["event_id"] == 2
    assert again["anchor"]["reason"].startswith("runbook audit anchor by ")
    assert (
        run_cli("audit", "verify")
        .out.splitlines()[1]
        .startswith("checked against 2 records and 1 anchor (newest: event 2 at ")
    )

    tamper_store(repo, "DELETE FROM audit_events")
    wiped = run_cli("audit", "verify")
    assert wiped.code == 1 and wiped.out == ""
    lines = wiped.err.splitlines()
    assert len(lines) == 3 and all(line.startswith("runbook: error: audit log: ") for line in lines)
    assert "the log is empty, but the anchor of " in lines[0]
    assert "says it held 2 events: the log was wiped" in lines[0]
    assert f"plan {plan_id} has no plan.created event in the log" in lines[1]
    assert f'review 1 of plan {plan_id} (by "bob") has no review.recorded event' in lines[2]
    refused = run_cli("audit", "anchor")
    assert refused.code == 1
    assert refused.err.startswith("runbook: error: audit log: the log is empty, but the anchor")
    assert refused.err.endswith("the log was wiped; not anchored\n")


def test_an_empty_log_verifies(run_cli: Cli) -> None:
    assert run_cli("audit", "verify").out.splitlines() == [
        "audit log intact: 0 events",
        "checked against 0 records and 0 anchors (none yet)",
    ]
    assert run_cli("audit", "anchor").out.strip() == "nothing to anchor: the audit log is empty"
    assert run_cli("audit", "log").out.strip() == "no audit events yet"


@pytest.mark.kernel
def test_every_run_anchors_when_it_ends_and_its_record_matches_its_events(
    repo: Repository,
) -> None:
    write_runbook(
        repo.runbooks_dir / "hello.ipynb",
        [("code", "print('hello')", []), ("code", "raise SystemExit('no')", [])],
    )
    planned = runbook(repo, "plan", "hello", "--as", "alice", "--json")
    plan_id = json.loads(planned.stdout)["id"]
    first = runbook(repo, "run", plan_id, "--yes", "--json")
    assert first.returncode == 1 and "Traceback" not in first.stderr  # the cell failed
    resumed = runbook(repo, "run", plan_id, "--yes", "--dry-run", "--from", "1", "--json")
    assert "Traceback" not in resumed.stderr, resumed.stderr
    runs = [json.loads(first.stdout)["run"], json.loads(resumed.stdout)["run"]]

    verdict = json.loads(runbook(repo, "audit", "verify", "--json").stdout)
    assert verdict["ok"], verdict["findings"]
    assert (verdict["records"], verdict["anchors"]) == (3, 2)
    assert verdict["anchor"]["reason"] == f"run {runs[1]} finished"
    assert verdict["notes"] == []

    tamper_store(repo, f"UPDATE runs SET state = 'succeeded' WHERE id = '{runs[0]}'")  # noqa: S608
    tampered = runbook(repo, "audit", "verify")
    assert tampered.returncode == 1
    assert tampered.stderr == (
        f'runbook: error: audit log: run {runs[0]} is "succeeded" in the store, but its audit '
        'events say "failed"\n'
    )
