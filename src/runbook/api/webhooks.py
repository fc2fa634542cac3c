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
from typing import Any

from fastapi import Depends, Request

from runbook.api.permissions import SourceSecretMarker
from runbook.credentials import environment
from runbook.errors import WebhookAuthError
from runbook.model.catalog.alert_sources import AlertSource
from runbook.model.catalog.webhook_auth import check_sender
from runbook.model.repository import Repository


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
        # Its size is capped for every request (api/middleware.py: a 413 past 1 MiB).
        body = await request.body()
        check_sender(found.sender_secret(environment()), request.headers, body)
        return Delivery(found, body)


def source_secret(kind: str) -> Any:
    """The dependency of the webhook for sources of ``kind``; it yields the Delivery."""
    return Depends(SenderCheck(kind))
