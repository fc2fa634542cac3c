"""Sender checks: bearer, HMAC, PagerDuty's v1 signatures; refusals never show the secret."""

from __future__ import annotations

import pytest

from runbook.errors import WebhookAuthError
from runbook.model.catalog.webhook_auth import SourceSecret, check_sender, hmac_hex

BODY = b'{"version": "4", "alerts": []}'


def test_bearer() -> None:
    secret = SourceSecret("alertmanager", "bearer", "s3cret")
    check_sender(secret, {"Authorization": "Bearer s3cret"}, BODY)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic s3cret"}):
        with pytest.raises(WebhookAuthError) as refused:
            check_sender(secret, headers, BODY)
        assert "s3cret" not in str(refused.value)


def test_hmac_of_the_raw_body() -> None:
    secret = SourceSecret("grafana", "hmac", "k", header="X-Grafana-Alerting-Signature")
    check_sender(secret, {"x-grafana-alerting-signature": hmac_hex("k", BODY)}, BODY)
    with pytest.raises(WebhookAuthError):
        check_sender(secret, {"X-Grafana-Alerting-Signature": hmac_hex("k", BODY + b" ")}, BODY)


def test_pagerduty_signatures_during_rotation() -> None:
    secret = SourceSecret("pagerduty", "pagerduty", "new")
    header = f"v1={hmac_hex('old', BODY)}, v1={hmac_hex('new', BODY)}"
    check_sender(secret, {"X-PagerDuty-Signature": header}, BODY)
    with pytest.raises(WebhookAuthError):
        check_sender(secret, {"X-PagerDuty-Signature": f"v1={hmac_hex('old', BODY)}"}, BODY)
    with pytest.raises(WebhookAuthError):
        check_sender(secret, {"X-PagerDuty-Signature": f"v0={hmac_hex('new', BODY)}"}, BODY)


def test_a_source_without_a_secret_refuses_everything() -> None:
    with pytest.raises(WebhookAuthError, match="no secret is configured"):
        check_sender(SourceSecret("x", "bearer", ""), {"Authorization": "Bearer "}, BODY)
    assert "s3cret" not in repr(SourceSecret("a", "bearer", "s3cret"))
