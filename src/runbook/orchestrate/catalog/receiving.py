"""A webhook's body in, its alerts answered: the one function the HTTP edge calls.

:func:`receive_webhook` checks the sender first (its source's secret, in constant time:
:mod:`runbook.model.catalog.webhook_auth`), so a bad signature records nothing; then it
parses the body (:mod:`runbook.model.catalog.alert_payloads`) and receives every alert
(:func:`runbook.orchestrate.catalog.alerts.receive_alert`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import AlertPayloadError
from runbook.model.catalog.alert_payloads import (
    Alert,
    GenericMapping,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
    parse_pagerduty,
)
from runbook.model.catalog.alert_sources import AlertSource
from runbook.model.catalog.webhook_auth import SourceSecret, check_sender
from runbook.model.repository import Repository
from runbook.orchestrate.catalog.alerts import Received, receive_alert

PARSERS: Final[dict[str, Callable[[object], list[Alert]]]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "pagerduty": parse_pagerduty,
}


def parse_payload(
    source: str, payload: object, mapping: GenericMapping | None = None
) -> list[Alert]:
    """The alerts of ``payload`` from ``source`` (a generic source needs its ``mapping``)."""
    if mapping is not None:
        return parse_generic(payload, mapping)
    parser = PARSERS.get(source)
    if parser is None:
        raise AlertPayloadError("source", f"unknown alert source {source!r}")
    return parser(payload)


def receive_payload(
    sessions: sessionmaker[Session],
    repository: Repository,
    source: str,
    payload: object,
    mapping: GenericMapping | None = None,
) -> list[Received]:
    """Receive every alert of a decoded payload (the whole payload is parsed first, so a
    malformed one records nothing)."""
    alerts = parse_payload(source, payload, mapping)
    return [receive_alert(sessions, repository, alert) for alert in alerts]


def receive_webhook(
    sessions: sessionmaker[Session],
    repository: Repository,
    secret: SourceSecret,
    headers: Mapping[str, str],
    body: bytes,
    mapping: GenericMapping | None = None,
) -> list[Received]:
    """Check the sender, then parse and receive the body (see the module docstring)."""
    check_sender(secret, headers, body)
    return receive_payload(sessions, repository, secret.source, _json(body), mapping)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AlertPayloadError("body", "is not JSON") from None


def receive_from(
    sessions: sessionmaker[Session], repository: Repository, source: AlertSource, body: bytes
) -> list[Received]:
    """Receive the body of a webhook from a configured ``source`` whose sender was checked
    (the HTTP edge checks it before the route runs). Its alerts are recorded with source
    ``<kind>:<name>``, so two senders' fingerprints never collide."""
    alerts = parse_payload(source.kind, _json(body), source.mapping)
    named = [dataclasses.replace(alert, source=source.recorded_as) for alert in alerts]
    return [receive_alert(sessions, repository, alert) for alert in named]
