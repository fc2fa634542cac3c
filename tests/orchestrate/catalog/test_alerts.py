"""Alerts answered by the catalog: recorded once, gaps visible, guards and fallbacks."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from runbook.errors import WebhookAuthError
from runbook.model.catalog.webhook_auth import SourceSecret
from runbook.model.repository import Repository
from runbook.orchestrate.catalog.alerts import receive_alert
from runbook.orchestrate.catalog.catalog_queries import gaps, pause, resume
from runbook.orchestrate.catalog.receiving import receive_webhook
from runbook.store.audit import list_events
from runbook.store.catalog_records import count_alerts, get_alert
from runbook.store.tables import PlanRow
from tests.orchestrate.catalog.catalog_setup import alert, catalog_repo, grant, sessions_of


@pytest.fixture
def ops(repo: Repository) -> Repository:
    return catalog_repo(repo)


def test_a_hundred_repeated_deliveries_record_one_alert(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        results = [receive_alert(sessions, ops, alert(service="billing")) for _ in range(100)]
        assert [r.created for r in results] == [True] + [False] * 99
        assert {r.alert_id for r in results} == {results[0].alert_id}
        with sessions.begin() as session:
            assert count_alerts(session) == 1
            row = get_alert(session, results[0].alert_id)
            assert (row.service, row.code, row.rule, row.action) == (
                "billing",
                "E-DISK",
                "disk-platform",
                "manual",
            )
            assert row.detail == "disk-platform: run clean with host=web1"
            answered = [e for e in list_events(session) if e.kind == "alert.answered"]
            assert len(answered) == 1


def test_resolved_stamps_the_record_once(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        first = receive_alert(sessions, ops, alert(service="billing"))
        receive_alert(sessions, ops, alert(service="billing", status="resolved"))
        receive_alert(sessions, ops, alert(service="billing", status="resolved"))
        with sessions.begin() as session:
            row = get_alert(session, first.alert_id)
            assert row.status == "resolved" and row.resolved_at is not None
            assert count_alerts(session) == 1


def test_an_unknown_service_is_recorded_as_a_gap(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        received = receive_alert(sessions, ops, alert(service="nobody"))
        assert received.action == "gap"
        assert "no service in the catalog has these labels" in received.detail
        unknown_code = alert(service="billing", fingerprint="f2", error_code="E-NEW")
        assert receive_alert(sessions, ops, unknown_code).detail == (
            "no procedure for E-NEW on billing"
        )
        repeated = receive_alert(sessions, ops, unknown_code)
        with sessions.begin() as session:
            assert {g["id"] for g in gaps(session)} == {repeated.alert_id, received.alert_id}


def test_a_bad_signature_is_refused_and_nothing_is_recorded(ops: Repository) -> None:
    body = json.dumps({"version": "4", "alerts": []}).encode()
    secret = SourceSecret("alertmanager", "bearer", "right")
    with sessions_of(ops) as sessions:
        with pytest.raises(WebhookAuthError):
            receive_webhook(sessions, ops, secret, {"Authorization": "Bearer wrong"}, body)
        with sessions.begin() as session:
            assert count_alerts(session) == 0


def test_auto_outside_the_standing_approval_bounds_suggests_instead(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        with sessions() as session:
            grant(session, ops)
        received = receive_alert(sessions, ops, alert(instance="db1"))
        assert received.run is None and received.action == "suggest"
        assert received.detail.startswith("not run automatically: ")
        assert "host = 'db1' does not match ~web[0-9]+" in received.detail
        with sessions.begin() as session:
            row = get_alert(session, received.alert_id)
            assert row.plan_id is not None and row.run_id is None
            plan = session.scalars(select(PlanRow).where(PlanRow.id == row.plan_id)).one()
            assert plan.standing_approval is None  # a plain plan: a person reviews it


def test_auto_without_any_standing_approval_suggests(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        received = receive_alert(sessions, ops, alert())
        assert received.action == "suggest" and received.run is None
        assert "no standing approval" in received.detail


def test_the_kill_switch_stops_automated_runs_and_is_audited(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        with sessions() as session:
            grant(session, ops)
        with sessions.begin() as session:
            pause(session, by="carol", reason="incident review")
        received = receive_alert(sessions, ops, alert())
        assert received.action == "suggest" and received.run is None
        assert "automated response is paused" in received.detail
        with sessions.begin() as session:
            resume(session, by="carol")
            kinds = [e.kind for e in list_events(session)]
            assert "catalog.paused" in kinds and "catalog.resumed" in kinds


@pytest.mark.kernel
def test_auto_inside_the_bounds_runs_and_guards_the_next_one(ops: Repository) -> None:
    with sessions_of(ops) as sessions:
        with sessions() as session:
            grant(session, ops)
        at = datetime.now(UTC)
        received = receive_alert(sessions, ops, alert(at=at), now=at)
        assert received.action == "auto", received.detail
        assert received.run is not None
        received.run.join()
        assert (ops.runbooks_dir / "web1.cleaned").exists()  # the confirm cell ran unattended
        with sessions.begin() as session:
            row = get_alert(session, received.alert_id)
            assert row.run_id is not None and row.plan_id is not None
        later = at + timedelta(seconds=10)
        again = receive_alert(sessions, ops, alert(fingerprint="f2", at=later), now=later)
        assert again.action == "suggest" and again.run is None
        assert "cooling down" in again.detail


def test_a_signed_pagerduty_webhook_is_received_once(ops: Repository) -> None:
    from runbook.model.catalog.webhook_auth import hmac_hex
    from tests.model.catalog.test_alert_payloads import PAGERDUTY

    payload = copy.deepcopy(PAGERDUTY)
    payload["event"]["data"]["service"]["summary"] = "billing"
    body = json.dumps(payload).encode()
    secret = SourceSecret("pagerduty", "pagerduty", "k")
    headers = {"X-PagerDuty-Signature": f"v1={hmac_hex('k', body)}"}
    with sessions_of(ops) as sessions:
        (first,) = receive_webhook(sessions, ops, secret, headers, body)
        (again,) = receive_webhook(sessions, ops, secret, headers, body)
        assert first.created and not again.created and first.alert_id == again.alert_id
        # The code is the alertname (the incident's title): E-DISK, answered by the platform.
        assert first.action == "manual" and first.detail.startswith("disk-platform:")
