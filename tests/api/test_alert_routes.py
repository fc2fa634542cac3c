"""The alert webhooks and the catalog's routes, in process: each source proves its own
secret, repeated deliveries record nothing twice, the records and the kill switch over REST."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.config import database_url
from runbook.model.catalog.webhook_auth import hmac_hex
from runbook.model.repository import Repository, find_repository
from runbook.model.roles import Role
from runbook.store.audit import list_events
from runbook.store.catalog_records import count_alerts
from runbook.store.db import make_engine
from tests.api.conftest import Tokens
from tests.model.catalog.test_alert_payloads import ALERTMANAGER, PAGERDUTY
from tests.orchestrate.catalog.catalog_setup import catalog_repo

AM_SECRET = "am-token-123"
PD_SECRET = "pd-signing-456"
GEN_SECRET = "gen-hmac-789"

SOURCES = f"""
[catalog]
base_url = "https://runbook.example"

[catalog.sources.prod]
kind = "alertmanager"
secret_env = "RUNBOOK_ALERT_PROD"

[catalog.sources.pd]
kind = "pagerduty"
secret = "{PD_SECRET}"

[catalog.sources.graf]
kind = "grafana"
auth = "hmac"
header = "X-Grafana-Alerting-Signature"
secret = "{GEN_SECRET}"

[catalog.sources.zabbix]
kind = "generic"
auth = "hmac"
secret = "{GEN_SECRET}"
labels = {{ service = "host.service", error_code = "trigger.code", instance = "host.name" }}
fingerprint = "event_id"
starts_at = "clock"
status = "value"
resolved_value = "OK"
"""


def with_sources(repo: Repository) -> Repository:
    """``repo`` with a catalog imported and the alert sources above."""
    ops = catalog_repo(repo)
    config = ops.root / "runbook.toml"
    config.write_text(config.read_text(encoding="utf-8") + SOURCES, "utf-8")
    return find_repository(ops.root)


@pytest.fixture
def ops(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Repository:
    monkeypatch.setenv("RUNBOOK_ALERT_PROD", AM_SECRET)
    return with_sources(repo)


@pytest.fixture
def client(ops: Repository) -> Iterator[TestClient]:
    with TestClient(create_app(ops), raise_server_exceptions=False) as made:
        yield made


def am_body(fingerprint: str = "", **labels: str) -> bytes:
    """Alertmanager's example (one firing, one resolved) for ``labels``; ``fingerprint``
    suffixes the alerts' fingerprints."""
    payload = copy.deepcopy(ALERTMANAGER)
    payload["commonLabels"] = {"alertname": "DiskFull", "service": "billing", **labels}
    for alert in payload["alerts"]:
        alert["fingerprint"] += fingerprint
    return json.dumps(payload).encode()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def alert_count(ops: Repository) -> int:
    engine = make_engine(database_url(ops.root))
    try:
        with Session(engine) as session:
            return count_alerts(session)
    finally:
        engine.dispose()


def test_a_hundred_repeated_webhooks_record_each_alert_once(
    client: TestClient, ops: Repository
) -> None:
    body = am_body()
    answers = [
        client.post("/alerts/alertmanager/prod", content=body, headers=bearer(AM_SECRET))
        for _ in range(100)
    ]
    assert {a.status_code for a in answers} == {200}
    first = answers[0].json()
    assert first["source"] == "alertmanager:prod"
    assert [a["created"] for a in first["alerts"]] == [True, True]
    assert all(not a["created"] for r in answers[1:] for a in r.json()["alerts"])
    assert alert_count(ops) == 2  # the firing one and the resolved one, 0 duplicates
    firing = first["alerts"][0]
    assert (firing["action"], firing["detail"]) == (
        "manual",
        "disk-platform: run clean with host=web1",
    )


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/alerts/alertmanager/prod", {"Authorization": "Bearer wrong"}),
        ("/alerts/alertmanager/prod", {"Authorization": f"Basic {AM_SECRET}"}),
        ("/alerts/alertmanager/prod", {}),
        ("/alerts/alertmanager/nobody", {"Authorization": f"Bearer {AM_SECRET}"}),
        ("/alerts/grafana/prod", {"Authorization": f"Bearer {AM_SECRET}"}),  # another kind
        ("/alerts/pagerduty/pd", {"X-PagerDuty-Signature": "v1=00"}),
        ("/alerts/grafana/graf", {"X-Grafana-Alerting-Signature": "abc"}),
    ],
)
def test_a_bad_secret_or_signature_is_one_401_and_records_nothing(
    client: TestClient, ops: Repository, path: str, headers: dict[str, str]
) -> None:
    response = client.post(path, content=am_body(), headers=headers)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["kind"] == "WebhookAuthError" and "nothing was recorded" in error["message"]
    assert AM_SECRET not in response.text and PD_SECRET not in response.text
    assert alert_count(ops) == 0


def test_a_user_token_does_not_authenticate_a_webhook(
    client: TestClient, ops: Repository, tokens: Tokens
) -> None:
    admin = Tokens.header(tokens.by_role[Role.ADMIN])
    response = client.post("/alerts/alertmanager/prod", content=am_body(), headers=admin)
    assert response.status_code == 401
    assert alert_count(ops) == 0


def test_an_unset_secret_variable_refuses_every_delivery(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_ALERT_PROD", raising=False)
    ops = with_sources(repo)
    with TestClient(create_app(ops), raise_server_exceptions=False) as client:
        empty = client.post("/alerts/alertmanager/prod", content=am_body(), headers=bearer(""))
        assert empty.status_code == 401
        assert "no secret is configured" in empty.json()["error"]["message"]


def test_pagerduty_signatures_are_verified(client: TestClient, ops: Repository) -> None:
    payload = copy.deepcopy(PAGERDUTY)
    payload["event"]["data"]["service"]["summary"] = "billing"
    body = json.dumps(payload).encode()
    rotated = f"v1={hmac_hex('old', body)}, v1={hmac_hex(PD_SECRET, body)}"
    made = client.post(
        "/alerts/pagerduty/pd", content=body, headers={"X-PagerDuty-Signature": rotated}
    )
    assert made.status_code == 200, made.text
    assert made.json()["alerts"][0]["action"] == "manual"
    tampered = body.replace(b"billing", b"checkout")
    refused = client.post(
        "/alerts/pagerduty/pd", content=tampered, headers={"X-PagerDuty-Signature": rotated}
    )
    assert refused.status_code == 401
    assert alert_count(ops) == 1


def test_grafana_hmac_and_a_generic_mapping(client: TestClient, ops: Repository) -> None:
    grafana = copy.deepcopy(ALERTMANAGER) | {"version": "1"}
    grafana["commonLabels"]["service"] = "billing"
    body = json.dumps(grafana).encode()
    signed = {"X-Grafana-Alerting-Signature": hmac_hex(GEN_SECRET, body)}
    assert client.post("/alerts/grafana/graf", content=body, headers=signed).status_code == 200
    event = {
        "event_id": "z-1",
        "clock": "2026-12-04T02:00:00Z",
        "value": "PROBLEM",
        "host": {"service": "billing", "name": "web7"},
        "trigger": {"code": "E-DISK"},
    }
    raw = json.dumps(event).encode()
    got = client.post(
        "/alerts/generic/zabbix",
        content=raw,
        headers={"X-Runbook-Signature": hmac_hex(GEN_SECRET, raw)},
    )
    assert got.status_code == 200, got.text
    (one,) = got.json()["alerts"]
    assert one["detail"] == "disk-platform: run clean with host=web7"
    ok = json.dumps(event | {"value": "OK"}).encode()
    resolved = client.post(
        "/alerts/generic/zabbix",
        content=ok,
        headers={"X-Runbook-Signature": hmac_hex(GEN_SECRET, ok)},
    )
    assert resolved.json()["alerts"][0] == one | {"created": False}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300))
def test_any_authenticated_body_is_a_clear_answer_never_a_server_error(
    client: TestClient, body: bytes
) -> None:
    response = client.post("/alerts/alertmanager/prod", content=body, headers=bearer(AM_SECRET))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["message"].startswith("alert payload: ")


def test_a_body_too_large_is_refused(client: TestClient) -> None:
    huge = b"{" + b" " * (1 << 20) + b"}"
    response = client.post("/alerts/alertmanager/prod", content=huge, headers=bearer(AM_SECRET))
    assert response.status_code == 413
    assert "over 1048576 bytes" in response.json()["error"]["message"]


def test_records_gaps_and_lookups_over_rest(
    client: TestClient, ops: Repository, tokens: Tokens
) -> None:
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    client.post("/alerts/alertmanager/prod", content=am_body(), headers=bearer(AM_SECRET))
    client.post(
        "/alerts/alertmanager/prod",
        content=am_body("-2", service="nobody"),
        headers=bearer(AM_SECRET),
    )
    everything = client.get("/alerts", headers=viewer).json()
    assert len(everything) == 4  # for billing and nobody: the firing one and the resolved one
    page = client.get("/alerts", params={"limit": 2, "offset": 3}, headers=viewer).json()
    assert [a["id"] for a in page] == [everything[3]["id"]]
    gaps = client.get("/alerts/gaps", headers=viewer).json()
    assert [g["labels"]["service"] for g in gaps] == ["nobody"]
    billing = client.get(
        "/alerts", params={"service": "billing", "status": "firing"}, headers=viewer
    )
    assert [a["action"] for a in billing.json()] == ["manual"]
    found = client.get("/catalog/checkout/E-DISK", headers=viewer).json()
    assert found["procedure"]["name"] == "disk-checkout"
    assert [c["rule"] for c in found["candidates"]] == ["disk-checkout", "disk-platform"]
    assert client.get("/catalog/checkout/E-DISK/runbook-url", headers=viewer).json() == {
        "url": "https://runbook.example/catalog/checkout/E-DISK"
    }
    missing = client.get("/catalog/nobody/E-DISK", headers=viewer)
    assert missing.status_code == 404 and "service nobody" in missing.json()["error"]["message"]


def test_pause_and_resume_are_for_admins_and_audited(
    client: TestClient, ops: Repository, tokens: Tokens
) -> None:
    operator = Tokens.header(tokens.by_role[Role.OPERATOR])
    admin = Tokens.header(tokens.by_role[Role.ADMIN])
    assert client.post("/catalog/pause", headers=operator).status_code == 403
    paused = client.post("/catalog/pause", json={"reason": "incident 7"}, headers=admin)
    assert paused.json() == {"paused": True, "by": "admin-user", "reason": "incident 7"}
    assert client.post("/catalog/resume", headers=admin).json()["paused"] is False
    engine = make_engine(database_url(ops.root))
    try:
        with Session(engine) as session:
            events: list[Any] = [
                e
                for e in list_events(session)
                if e.kind.startswith(("catalog.paused", "catalog.resumed"))
            ]
    finally:
        engine.dispose()
    assert [(e.kind, e.actor) for e in events] == [
        ("catalog.paused", "admin-user"),
        ("catalog.resumed", "admin-user"),
    ]
