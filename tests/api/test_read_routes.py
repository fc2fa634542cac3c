"""The read routes answer what the CLI's ``--json`` prints, from the same core functions."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from tests.api.conftest import Records, Tokens


def _cli_json(run_cli: Any, *args: str) -> Any:
    result = run_cli(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_each_read_route_returns_what_the_cli_prints(
    app_client: TestClient, tokens: Tokens, records: Records, run_cli: Any
) -> None:
    auth = Tokens.header(tokens.by_role[Role.OPERATOR])
    pairs = {
        "/runbooks": ("list",),
        "/runbooks/restart": ("show", "restart"),
        "/plans": ("plans",),
        f"/plans/{records.plan.id}": ("show-plan", records.plan.id),
        "/runs": ("runs",),
        f"/runs/{records.run_id}/cells": ("log", records.run_id),
        "/audit?limit=5": ("audit", "log", "-n", "5"),
    }
    for path, command in pairs.items():
        response = app_client.get(path, headers=auth)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == _cli_json(run_cli, *command), path


def test_a_run_shows_as_its_cli_summary(
    app_client: TestClient, tokens: Tokens, records: Records, run_cli: Any
) -> None:
    auth = Tokens.header(tokens.by_role[Role.VIEWER])
    response = app_client.get(f"/runs/{records.run_id}", headers=auth)
    assert response.status_code == 200
    logged = _cli_json(run_cli, "log", records.run_id)
    del logged["cells"]
    assert response.json() == logged
    assert response.json()["state"] == "succeeded"


def test_audit_verify_reports_an_intact_chain(repo: Repository, tokens: Tokens) -> None:
    with TestClient(create_app(repo)) as client:
        response = client.get("/audit/verify", headers=Tokens.header(tokens.by_role[Role.ADMIN]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    # One token.created per role, the expired and the revoked token, and token.revoked.
    assert body["checked"] == len(Role) + 3


def test_a_failed_audit_check_is_a_conflict_naming_the_cli_finding(
    app_client: TestClient, tokens: Tokens, run_cli: Any
) -> None:
    # The fixture's run was recorded behind the audit log's back: verify finds it.
    response = app_client.get("/audit/verify", headers=Tokens.header(tokens.by_role[Role.ADMIN]))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["kind"] == "AuditTamperedError"
    assert error["code"] == 1
    result = run_cli("audit", "verify", "--json")
    assert result.code == 1
    assert error["message"] == f"audit log: {json.loads(result.out)['reason']}"


def test_filters_narrow_the_listings(
    app_client: TestClient, tokens: Tokens, records: Records
) -> None:
    auth = Tokens.header(tokens.by_role[Role.OPERATOR])
    plans = app_client.get("/plans", params={"runbook": "restart"}, headers=auth).json()
    assert [p["id"] for p in plans] == [records.plan.id]
    runs = app_client.get("/runs", params={"state": "failed"}, headers=auth).json()
    assert runs == []
    events = app_client.get("/audit", params={"plan": records.plan.id}, headers=auth).json()
    assert {e["subject"] for e in events} == {f"plan:{records.plan.id}"}
