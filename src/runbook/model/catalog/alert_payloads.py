"""Alert payloads into one normalized alert: Alertmanager, Grafana, PagerDuty v3, generic JSON.

Pure functions of the decoded JSON body. A malformed payload raises one AlertPayloadError
naming the field (``alerts[0].startsAt``), never anything else. The idempotency key of an
alert is ``(source, fingerprint, starts_at)``: Alertmanager resends the same alert on every
repeat interval and retry with the same fingerprint and ``startsAt``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from runbook.errors import AlertPayloadError

AlertStatus = Literal["firing", "resolved"]
SOURCES: Final = ("alertmanager", "grafana", "pagerduty")
_MAX_LABELS: Final = 256
_MAX_TEXT: Final = 8192
_FRACTION: Final = re.compile(r"\.[0-9]+")


@dataclass(frozen=True)
class Alert:
    """One alert, whatever sent it."""

    source: str
    fingerprint: str
    starts_at: datetime
    status: AlertStatus
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    url: str = ""  # where the sender shows it (generatorURL, html_url)


def _mapping(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError(where, "must be an object of names to text")
    if len(value) > _MAX_LABELS:
        raise AlertPayloadError(where, f"has more than {_MAX_LABELS} entries")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise AlertPayloadError(f"{where}.{key}", "must be text")
        out[str(key)] = _cap(str(item), f"{where}.{key}")
    return out


def _cap(text: str, where: str) -> str:
    if len(text) > _MAX_TEXT or "\x00" in text:
        raise AlertPayloadError(where, f"is longer than {_MAX_TEXT} characters or holds a NUL")
    return text


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise AlertPayloadError(f"{where}{key}", "must be non-empty text")
    return _cap(value, f"{where}{key}")


def parse_time(value: object, where: str) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime; AlertPayloadError otherwise."""
    if not isinstance(value, str):
        raise AlertPayloadError(where, "must be an RFC 3339 timestamp")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Go writes nanoseconds; Python reads up to microseconds.
    text = _FRACTION.sub(lambda m: m.group(0)[:7], text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AlertPayloadError(where, f"{value!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise AlertPayloadError(where, f"{value!r} has no time zone")
    return moment.astimezone(UTC)


def _object(payload: object, where: str = "body") -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise AlertPayloadError(where, "must be a JSON object")
    return payload


def _fingerprint(labels: Mapping[str, str]) -> str:
    # Alertmanager always sends one; a sender that does not gets one from the labels.
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_alertmanager(payload: object, source: str = "alertmanager") -> list[Alert]:
    """The alerts of an Alertmanager webhook (version 4), each firing or resolved.

    Grafana's alerting webhook has the same shape (:func:`parse_grafana`).
    """
    body = _object(payload)
    version = body.get("version")
    if source == "alertmanager" and version != "4":
        raise AlertPayloadError(
            "version", f'expected "4" (Alertmanager\'s webhook), not {version!r}'
        )
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise AlertPayloadError("alerts", "must be a list")
    common = _mapping(body.get("commonLabels"), "commonLabels")
    found = []
    for index, item in enumerate(alerts):
        where = f"alerts[{index}]."
        alert = _object(item, where.rstrip("."))
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise AlertPayloadError(f"{where}status", f"must be firing or resolved, not {status!r}")
        labels = {**common, **_mapping(alert.get("labels"), f"{where}labels")}
        fingerprint = _text(alert, "fingerprint", where, required=False) or _fingerprint(labels)
        found.append(
            Alert(
                source=source,
                fingerprint=fingerprint,
                starts_at=parse_time(alert.get("startsAt"), f"{where}startsAt"),
                status=status,
                labels=labels,
                annotations=_mapping(alert.get("annotations"), f"{where}annotations"),
                url=_text(alert, "generatorURL", where, required=False),
            )
        )
    return found


def parse_grafana(payload: object) -> list[Alert]:
    """The alerts of a Grafana alerting webhook (Alertmanager's shape, ``version: "1"``)."""
    return parse_alertmanager(payload, source="grafana")


#: PagerDuty v3 event types that open or close an incident; the others change nothing here.
_PD_STATUS: Final[dict[str, AlertStatus]] = {
    "incident.triggered": "firing",
    "incident.reopened": "firing",
    "incident.resolved": "resolved",
}


def parse_pagerduty(payload: object) -> list[Alert]:
    """The incident of a PagerDuty v3 webhook; ``[]`` for an event that neither opens nor
    closes one (acknowledged, annotated…).

    Labels: ``service`` (the PagerDuty service's summary), ``alertname`` (the title),
    ``urgency``, ``priority``, ``incident_key``; fingerprint: the incident id.
    """
    body = _object(payload)
    event = _object(body.get("event"), "event")
    kind = _text(event, "event_type", "event.")
    if kind not in _PD_STATUS:
        return []
    data = _object(event.get("data"), "event.data")
    service = _object(data.get("service") or {}, "event.data.service")
    labels = {"alertname": _text(data, "title", "event.data.")}
    if service.get("summary"):
        labels["service"] = _text(service, "summary", "event.data.service.")
    for key in ("urgency", "incident_key"):
        if isinstance(data.get(key), str) and data[key]:
            labels[key] = _cap(data[key], f"event.data.{key}")
    priority = data.get("priority")
    if isinstance(priority, dict) and isinstance(priority.get("summary"), str):
        labels["priority"] = _cap(priority["summary"], "event.data.priority.summary")
    return [
        Alert(
            source="pagerduty",
            fingerprint=_text(data, "id", "event.data."),
            starts_at=parse_time(data.get("created_at"), "event.data.created_at"),
            status=_PD_STATUS[kind],
            labels=labels,
            annotations={"summary": labels["alertname"]},
            url=_text(data, "html_url", "event.data.", required=False),
        )
    ]


@dataclass(frozen=True)
class GenericMapping:
    """Where a generic JSON alert keeps its parts: dotted paths into the body.

    ``labels`` maps a label name to a path; ``status`` is the path of a value that is
    ``resolved_value`` when the alert is resolved (anything else: firing).
    """

    name: str
    labels: Mapping[str, str]
    fingerprint: str = "fingerprint"
    starts_at: str = "startsAt"
    status: str = "status"
    resolved_value: str = "resolved"
    annotations: Mapping[str, str] = field(default_factory=dict)


def _at(body: Mapping[str, Any], path: str) -> object:
    value: object = body
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def parse_generic(payload: object, mapping: GenericMapping) -> list[Alert]:
    """One alert from a JSON body through its source's declared ``mapping``."""
    body = _object(payload)
    labels = {}
    for label, path in {**mapping.labels}.items():
        value = _at(body, path)
        if value is not None:
            labels.update(_mapping({label: value}, path.rpartition(".")[0] or "body"))
    annotations = {}
    for name, path in mapping.annotations.items():
        value = _at(body, path)
        if value is not None:
            annotations.update(_mapping({name: value}, path.rpartition(".")[0] or "body"))
    fingerprint = _at(body, mapping.fingerprint)
    if fingerprint is not None and (
        not isinstance(fingerprint, str | int) or isinstance(fingerprint, bool)
    ):
        raise AlertPayloadError(mapping.fingerprint, "must be text")
    status = _at(body, mapping.status)
    return [
        Alert(
            source=f"generic:{mapping.name}",
            fingerprint=_cap(str(fingerprint), mapping.fingerprint)
            if fingerprint
            else _fingerprint(labels),
            starts_at=parse_time(_at(body, mapping.starts_at), mapping.starts_at),
            status="resolved" if status == mapping.resolved_value else "firing",
            labels=labels,
            annotations=annotations,
        )
    ]
