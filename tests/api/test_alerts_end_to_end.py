"""End to end with Debian's Prometheus and Alertmanager: a rule fires with service and code
labels and a runbook_url from `runbook catalog runbook-url`; Alertmanager sends it, with the
source's bearer, to a real `runbook serve`; the catalog's per-service override of the
platform's procedure runs the runbook under a standing approval; the rule stops firing and
the alert record shows resolved."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbook.model.repository import Repository, find_repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token
from tests.api.alerting_stack import ALERTMANAGER, PROMETHEUS, alerting_stack
from tests.cli.process import RUNBOOK, runbook
from tests.orchestrate.catalog.catalog_setup import catalog_repo, grant, sessions_of

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.kernel,
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None,
        reason="needs Debian's prometheus and prometheus-alertmanager (.ci/run installs them)",
    ),
]

STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
BEARER = "e2e-alertmanager-bearer"
DEADLINE = 240.0


@pytest.fixture
def ops(repo: Repository) -> Repository:
    """The catalog (platform: manual; checkout: an auto override), a standing approval for
    the override, and one alert source."""
    made = catalog_repo(repo)
    config = made.root / "runbook.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[catalog]\nbase_url = "http://runbook.test"\n'
        + '[catalog.sources.prod]\nkind = "alertmanager"\nsecret_env = "RUNBOOK_ALERT_PROD"\n',
        "utf-8",
    )
    fresh = find_repository(made.root)
    with sessions_of(fresh) as sessions, sessions() as session:
        grant(session, fresh)
    return fresh


@pytest.fixture
def served(ops: Repository) -> Iterator[str]:
    """`runbook serve` on the repository's store; its URL."""
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0"],
        cwd=ops.root,
        env={**os.environ, "RUNBOOK_ALERT_PROD": BEARER},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    try:
        lines = []
        for line in server.stderr:  # the startup line, however long it takes
            lines.append(line)
            match = STARTED.search(line)
            if match:
                break
        else:
            pytest.fail("runbook serve ended before it listened:\n" + "".join(lines))
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        server.terminate()
        server.communicate(timeout=60)


def viewer_token(ops: Repository) -> dict[str, str]:
    with sessions_of(ops) as sessions, sessions() as session:
        made = create_token(session, user="watcher", role=Role.VIEWER, created_by="root")
    return {"Authorization": f"Bearer {made.secret}"}


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    """Poll ``fetch()`` (the service's records) until ``done``; only a hang meets the deadline."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"never {what}: last {value!r}")


def test_prometheus_to_alertmanager_to_an_automated_run_and_its_resolution(
    ops: Repository, served: str, tmp_path: Path
) -> None:
    url = runbook(ops, "catalog", "runbook-url", "checkout", "E-DISK")
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip() == "http://runbook.test/catalog/checkout/E-DISK"
    auth = viewer_token(ops)

    def checkout_alerts() -> list[dict[str, Any]]:
        found = httpx.get(f"{served}/alerts", params={"service": "checkout"}, headers=auth)
        assert found.status_code == 200, found.text
        return list(found.json())

    webhook = f"{served}/alerts/alertmanager/prod"
    with alerting_stack(tmp_path / "stack", webhook, BEARER, url.stdout.strip()) as stack:
        (alert,) = wait_for(
            checkout_alerts, lambda found: any(a["run_id"] for a in found), "an automated run"
        )
        assert alert["source"] == "alertmanager:prod"
        assert (alert["service"], alert["code"], alert["rule"]) == (
            "checkout",
            "E-DISK",
            "disk-checkout",  # the service's override, not the platform's disk-platform
        )
        assert alert["action"] == "auto", alert["detail"]
        assert alert["annotations"]["runbook_url"].endswith("/catalog/checkout/E-DISK")
        run = wait_for(
            lambda: httpx.get(f"{served}/runs/{alert['run_id']}", headers=auth).json(),
            lambda shown: shown["state"] != "running",
            "the run's end",
        )
        assert run["state"] == "succeeded", run
        assert (ops.runbooks_dir / "web1.cleaned").exists()  # its confirm cell ran unattended

        stack.set_rule(firing=False)
        (resolved,) = wait_for(
            checkout_alerts, lambda found: found[0]["status"] == "resolved", "resolved"
        )
        assert resolved["id"] == alert["id"] and resolved["resolved_at"] is not None
