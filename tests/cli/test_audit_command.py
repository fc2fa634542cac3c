"""``runbook audit log`` and ``runbook audit verify`` end to end, tampering included."""

from __future__ import annotations

import json
from collections.abc import Callable

from runbook.config import database_url
from runbook.model.repository import Repository
from runbook.store.db import make_engine
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
    plan_and_review(run_cli)
    intact = run_cli("audit", "verify")
    assert intact.code == 0, intact.err
    assert intact.out.strip() == "audit log intact: 2 events"
    assert json.loads(run_cli("audit", "verify", "--json").out) == {
        "ok": True,
        "checked": 2,
        "first_bad_id": None,
        "reason": "",
    }

    tamper_store(
        repo,
        "UPDATE audit_events SET payload = json_set(payload, '$.verdict', 'rejected') "
        "WHERE kind = 'review.recorded'",
    )

    tampered = run_cli("audit", "verify")
    assert tampered.code == 1
    assert tampered.err == (
        "runbook: error: audit log: event 2 was altered (its hash does not match its content)\n"
    )
    report = run_cli("audit", "verify", "--json")
    assert report.code == 1 and report.err.count("\n") == 1
    assert json.loads(report.out)["first_bad_id"] == 2


def test_an_empty_log_verifies(run_cli: Cli) -> None:
    assert run_cli("audit", "verify").out.strip() == "audit log intact: 0 events"
    assert run_cli("audit", "log").out.strip() == "no audit events yet"
