"""Operations: the probes, Prometheus metrics from the store and the requests, request ids,
security headers, the body limit, the failed-authentication throttle and the access log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.api.middleware import MAX_BODY_BYTES, SESSION_BODY_BYTES, body_limit
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.service_metrics import metric_names
from tests.api.conftest import Records, Tokens


def test_the_probes_answer_without_credentials(app_client: TestClient) -> None:
    assert app_client.get("/livez").json() == {"status": "ok"}
    ready = app_client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "store": "ok", "migrations": "ok", "executor": "ok"}


def test_readyz_names_a_schema_behind_the_code(app_client: TestClient, session: Session) -> None:
    session.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    session.commit()
    behind = app_client.get("/readyz")
    assert behind.status_code == 503
    assert behind.json()["status"] == "unready"
    assert behind.json()["migrations"].startswith("at 0010, needs ")


def test_metrics_count_the_stores_runs_and_the_requests(
    app_client: TestClient, tokens: Tokens, records: Records
) -> None:
    assert app_client.get("/metrics").status_code == 401
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    assert app_client.get(f"/runs/{records.run_id}", headers=viewer).status_code == 200
    scraped = app_client.get("/metrics", headers=viewer)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    body = scraped.text
    names = set(metric_names(body))
    assert {
        "runbook_runs",
        "runbook_run_duration_seconds",
        "runbook_cell_duration_seconds",
        "runbook_gate_wait_seconds",
        "runbook_gates_waiting",
        "runbook_queue_depth",
        "runbook_http_requests_total",
        "runbook_http_request_duration_seconds",
    } <= names
    assert 'runbook_runs{state="succeeded"} 1.0' in body
    assert "runbook_run_duration_seconds_count 1.0" in body  # the fixture's 2 s run
    assert 'runbook_run_duration_seconds_bucket{le="1.0"} 0.0' in body
    assert 'runbook_run_duration_seconds_bucket{le="5.0"} 1.0' in body
    # By route template, never by the path (its ids would make labels without end).
    route = 'route="/runs/{run_id}"'
    assert f'runbook_http_requests_total{{method="GET",{route},status="200"}} 1.0' in body
    assert records.run_id not in body


def test_request_ids_and_security_headers(app_client: TestClient) -> None:
    fresh = app_client.get("/livez")
    assert len(fresh.headers["x-request-id"]) == 32
    assert fresh.headers["x-content-type-options"] == "nosniff"
    assert fresh.headers["x-frame-options"] == "DENY"
    assert fresh.headers["cache-control"] == "no-store"
    assert fresh.headers["content-security-policy"].startswith("default-src 'none'")
    followed = app_client.get("/livez", headers={"X-Request-Id": "proxy-1234.abc"})
    assert followed.headers["x-request-id"] == "proxy-1234.abc"
    for hostile in ("a b", "x" * 200, "id\u00e9"):
        answered = app_client.get("/livez", headers={"X-Request-Id": hostile.encode("utf-8")})
        assert answered.headers["x-request-id"] != hostile
    refused = app_client.get("/runs")
    assert refused.status_code == 401 and "x-request-id" in refused.headers


def test_a_body_over_the_limit_is_refused_declared_or_streamed(
    app_client: TestClient, tokens: Tokens
) -> None:
    operator = Tokens.header(tokens.by_role[Role.OPERATOR])
    big = b'{"runbook": "restart", "parameters": {"service": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    declared = app_client.post("/plans", content=big, headers=operator)
    assert declared.status_code == 413
    assert declared.json()["error"]["status"] == 413
    assert "over 1048576 bytes" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = app_client.post("/plans", content=chunks(), headers=operator)
    assert streamed.status_code == 413, streamed.text
    assert set(streamed.json()) == {"error"}
    # Nothing half-made: no plan beyond the fixture's two.
    assert len(app_client.get("/plans", headers=operator).json()) == 2


def test_an_address_with_many_failures_is_throttled(
    repo: Repository, records: Records, tokens: Tokens
) -> None:
    app = create_app(repo)
    with TestClient(app, client=("198.51.100.7", 5000)) as prober:
        no_credentials = [prober.get("/runs").status_code for _ in range(30)]
        assert set(no_credentials) == {401}  # no credentials are no failures
        bad = [
            prober.get("/runs", headers=Tokens.header("rbk_guess")).status_code for _ in range(20)
        ]
        assert set(bad) == {401}
        throttled = prober.get("/runs", headers=Tokens.header("rbk_guess"))
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert throttled.json()["error"]["kind"] == "TooManyFailuresError"
        # Refused unchecked: even a good token from there waits.
        good = prober.get("/runs", headers=Tokens.header(tokens.by_role[Role.VIEWER]))
        assert good.status_code == 429
    with TestClient(app, client=("198.51.100.8", 5000)) as neighbour:
        good = neighbour.get("/runs", headers=Tokens.header(tokens.by_role[Role.VIEWER]))
        assert good.status_code == 200


def test_each_request_is_one_access_line_with_its_fields(
    app_client: TestClient, tokens: Tokens, records: Records, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    with caplog.at_level(logging.INFO, logger="runbook.access"):
        answered = app_client.get(f"/runs/{records.run_id}", headers=viewer)
    (line,) = [r for r in caplog.records if r.name == "runbook.access"]
    fields = line.fields  # type: ignore[attr-defined]
    assert fields["request_id"] == answered.headers["x-request-id"]
    assert (fields["method"], fields["route"], fields["status"]) == ("GET", "/runs/{run_id}", 200)
    assert fields["user"] == "viewer-user" and fields["ms"] >= 0
    assert tokens.by_role[Role.VIEWER] not in str(fields)


def test_a_sessions_jupyterlab_may_be_sent_more_than_the_api() -> None:
    assert body_limit("/plans") == body_limit("/sessions") == MAX_BODY_BYTES
    assert body_limit("/sessions/s1") == MAX_BODY_BYTES  # the service's own route
    assert body_limit("/sessions/s1/api/contents/a.ipynb") == SESSION_BODY_BYTES
