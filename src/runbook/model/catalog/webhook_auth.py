"""Checking who sent an alert: a bearer token or an HMAC-SHA256 of the raw body.

Every comparison is constant-time (``hmac.compare_digest``); a refusal says which check
failed, never the secret or what was expected. The HTTP edge calls :func:`check_sender`
before it parses or records anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from runbook.errors import WebhookAuthError

AuthKind = Literal["bearer", "hmac", "pagerduty"]
AUTH_KINDS: Final = ("bearer", "hmac", "pagerduty")


@dataclass(frozen=True)
class SourceSecret:
    """How one alert source proves itself: its kind of check and its secret."""

    source: str
    kind: AuthKind
    secret: str
    header: str = "X-Runbook-Signature"  # where an ``hmac`` source puts its hex digest

    def __repr__(self) -> str:  # never show the secret
        return f"SourceSecret({self.source!r}, {self.kind!r})"


def hmac_hex(secret: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``body`` under ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_signature_ok(secret: str, body: bytes, header: str) -> bool:
    """Whether ``X-PagerDuty-Signature`` (``v1=<hex>[,v1=<hex>…]``, several during a
    secret's rotation) holds the HMAC-SHA256 of the raw ``body`` under ``secret``."""
    expected = hmac_hex(secret, body)
    found = False
    for part in header.split(","):
        version, _, digest = part.strip().partition("=")
        # Compare every entry, so the time taken does not tell which one matched.
        if version == "v1" and hmac.compare_digest(digest.strip().lower(), expected):
            found = True
    return found


def check_sender(secret: SourceSecret, headers: Mapping[str, str], body: bytes) -> None:
    """Raise WebhookAuthError unless ``headers`` prove the sender knows ``secret``.

    ``headers`` are looked up case-insensitively. ``bearer``: ``Authorization: Bearer
    <secret>``; ``hmac``: the hex HMAC-SHA256 of the body in ``secret.header`` (Grafana's
    ``X-Grafana-Alerting-Signature`` works so); ``pagerduty``: ``X-PagerDuty-Signature``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if not secret.secret:
        raise WebhookAuthError(secret.source, "no secret is configured for this source")
    if secret.kind == "bearer":
        given = lowered.get("authorization", "")
        scheme, _, token = given.partition(" ")
        ok = hmac.compare_digest(token.strip().encode(), secret.secret.encode())
        if scheme.lower() != "bearer" or not ok:
            raise WebhookAuthError(secret.source, "missing or wrong bearer token")
        return
    if secret.kind == "pagerduty":
        if not pagerduty_signature_ok(
            secret.secret, body, lowered.get("x-pagerduty-signature", "")
        ):
            raise WebhookAuthError(secret.source, "missing or wrong X-PagerDuty-Signature")
        return
    given = lowered.get(secret.header.lower(), "").strip().lower()
    given = given.removeprefix("sha256=")
    if not hmac.compare_digest(given.encode(), hmac_hex(secret.secret, body).encode()):
        raise WebhookAuthError(secret.source, f"missing or wrong {secret.header}")
