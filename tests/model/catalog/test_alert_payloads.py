"""Payload parsers: real shapes in, one normalized alert out; malformed → one clear error."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import AlertPayloadError
from runbook.model.catalog.alert_payloads import (
    GenericMapping,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
    parse_pagerduty,
)

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="DiskFull"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "runbook",
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "service": "checkout"},
    "commonAnnotations": {"summary": "Disk almost full."},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"instance": "web1", "error_code": "E-DISK"},
            "annotations": {"summary": "Disk almost full on web1"},
            "startsAt": "2026-12-04T01:02:03.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom:9090/graph",
            "fingerprint": "2b556ffa6e6af203",
        },
        {
            "status": "resolved",
            "labels": {"instance": "web2"},
            "annotations": {},
            "startsAt": "2026-12-04T01:00:00+01:00",
            "endsAt": "2026-12-04T01:05:00Z",
            "fingerprint": "aaaa",
        },
    ],
}

PAGERDUTY: dict[str, Any] = {
    "event": {
        "id": "01DEN0MDIR0000000000000000",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-12-04T01:02:03.000Z",
        "agent": None,
        "client": None,
        "data": {
            "id": "PGR0VU2",
            "type": "incident",
            "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "number": 2,
            "status": "triggered",
            "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": "2026-12-04T01:02:00Z",
            "title": "E-DISK",
            "service": {"id": "PF9KMXH", "summary": "checkout", "type": "service_reference"},
            "urgency": "high",
            "priority": {"id": "P1", "summary": "P1"},
        },
    }
}


def test_alertmanager_v4_grouped_alerts_firing_and_resolved() -> None:
    first, second = parse_alertmanager(ALERTMANAGER)
    assert first.status == "firing" and second.status == "resolved"
    assert first.labels == {
        "alertname": "DiskFull",
        "service": "checkout",
        "instance": "web1",
        "error_code": "E-DISK",
    }
    assert first.fingerprint == "2b556ffa6e6af203"
    assert first.starts_at == datetime(2026, 12, 4, 1, 2, 3, 123456, tzinfo=UTC)
    assert second.starts_at == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)


def test_grafana_has_alertmanagers_shape() -> None:
    payload = {**copy.deepcopy(ALERTMANAGER), "version": "1", "orgId": 1, "state": "alerting"}
    alerts = parse_grafana(payload)
    assert [a.source for a in alerts] == ["grafana", "grafana"]


def test_pagerduty_v3_incident_triggered_and_other_events() -> None:
    (alert,) = parse_pagerduty(PAGERDUTY)
    assert alert.fingerprint == "PGR0VU2" and alert.status == "firing"
    assert alert.labels["service"] == "checkout" and alert.labels["alertname"] == "E-DISK"
    resolved = copy.deepcopy(PAGERDUTY)
    resolved["event"]["event_type"] = "incident.resolved"
    assert parse_pagerduty(resolved)[0].status == "resolved"
    resolved["event"]["event_type"] = "incident.annotated"
    assert parse_pagerduty(resolved) == []


def test_generic_json_through_its_declared_mapping() -> None:
    mapping = GenericMapping(
        name="nagios",
        labels={"service": "host.service", "error_code": "check.code"},
        fingerprint="id",
        starts_at="time",
        status="state",
        resolved_value="OK",
    )
    body = {
        "id": 7,
        "time": "2026-12-04T00:00:00Z",
        "state": "CRITICAL",
        "host": {"service": "checkout"},
        "check": {"code": "E-DISK"},
    }
    (alert,) = parse_generic(body, mapping)
    assert alert.source == "generic:nagios" and alert.fingerprint == "7"
    assert alert.labels == {"service": "checkout", "error_code": "E-DISK"}
    assert parse_generic({**body, "state": "OK"}, mapping)[0].status == "resolved"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(status="burning"), "alerts[0].status"),
        (lambda p: p["alerts"][1].update(labels={"a": {"b": 1}}), "alerts[1].labels.a"),
        (lambda p: p["alerts"].__setitem__(0, "x"), "alerts[0]"),
    ],
)
def test_a_malformed_alertmanager_payload_names_the_field(change: Any, field: str) -> None:
    payload = copy.deepcopy(ALERTMANAGER)
    change(payload)
    with pytest.raises(AlertPayloadError) as raised:
        parse_alertmanager(payload)
    assert raised.value.field == field


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _mutations() -> st.SearchStrategy[Any]:
    """Alertmanager payloads with one part replaced by arbitrary JSON."""
    keys = st.sampled_from(["version", "alerts", "commonLabels", "status"])
    alert_keys = st.sampled_from(["status", "labels", "annotations", "startsAt", "fingerprint"])

    def build(top: str, key: str, value: Any, inner: bool) -> dict[str, Any]:
        payload = copy.deepcopy(ALERTMANAGER)
        if inner:
            payload["alerts"][0][key] = value
        else:
            payload[top] = value
        return payload

    return st.builds(build, keys, alert_keys, JSON, st.booleans())


@given(_mutations())
def test_no_payload_crashes_the_parser(payload: dict[str, Any]) -> None:
    for parse in (parse_alertmanager, parse_grafana, parse_pagerduty):
        try:
            parse(payload)
        except AlertPayloadError as error:
            assert error.field and "\n" not in str(error)


@given(JSON)
def test_no_json_value_crashes_any_parser(payload: Any) -> None:
    mapping = GenericMapping(name="g", labels={"service": "a.b"})
    for parse in (
        parse_alertmanager,
        parse_grafana,
        parse_pagerduty,
        lambda p: parse_generic(p, mapping),
    ):
        try:
            parse(payload)
        except AlertPayloadError as error:
            assert error.field
