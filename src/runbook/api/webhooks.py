"""The dependency of an alert webhook: its sender proves its source's secret.

``POST /alerts/<kind>/<name>`` is called by Alertmanager, Grafana, PagerDuty or another
tool, not by a user: no API token, but the secret of ``[catalog.sources.<name>]`` (a bearer
token, or an HMAC-SHA256 of the body), checked in constant time
(:func:`runbook.model.catalog.webhook_auth.check_sender`) before the body is parsed or
anything recorded. An unknown source, a source of another kind, a missing or wrong secret:
one 401 (WebhookAuthError), nothing recorded. The secret never appears in a response or log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import Depends, Request

from runbook.api.permissions import SourceSecretMarker
from runbook.credentials import environment
from runbook.errors import AlertPayloadError, WebhookAuthError
from runbook.model.catalog.alert_sources import AlertSource
from runbook.model.catalog.webhook_auth import check_sender
from runbook.model.repository import Repository

#: The largest webhook body read (Alertmanager groups alerts; 1 MiB holds thousands).
MAX_BODY: Final = 1 << 20


@dataclass(frozen=True)
class Delivery:
    """A webhook whose sender proved its source's secret: the source and the raw body."""

    source: AlertSource
    body: bytes


class SenderCheck(SourceSecretMarker):
    """Checks the sender of ``POST /alerts/<kind>/{source}``; yields the :class:`Delivery`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def __call__(self, request: Request, source: str) -> Delivery:
        """The delivery, once its sender proved the secret; WebhookAuthError otherwise."""
        repository: Repository = request.app.state.repository
        found: AlertSource | None = repository.config.catalog_sources.get(source)
        if found is None or found.kind != self.kind:
            raise WebhookAuthError(
                f"{self.kind}:{source}", f"no {self.kind} source named so in [catalog.sources]"
            )
        body = await _capped_body(request)
        check_sender(found.sender_secret(environment()), request.headers, body)
        return Delivery(found, body)


async def _capped_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise AlertPayloadError("body", f"is larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise AlertPayloadError("body", f"is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def source_secret(kind: str) -> Any:
    """The dependency of the webhook for sources of ``kind``; it yields the Delivery."""
    return Depends(SenderCheck(kind))
