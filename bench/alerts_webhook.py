"""Alerts over HTTP: webhook-to-run-start latency, and alerts per second accepted.

Usage: .venv/bin/python bench/alerts_webhook.py [--runs 10] [--clients 16] [--seconds 10]
           [--postgres]

A repository with the catalog of two services: ``checkout``'s E-DISK answered by an
``auto`` rule under a standing approval (cool-down 0, no rate limit, so every alert may
run), ``billing``'s by a ``manual`` one (recorded, matched, audited; nothing runs). A real
`runbook serve` on loopback, on SQLite (or with --postgres a database of its own).

(a) RUNS times: one Alertmanager webhook (version 4, one firing alert, a new fingerprint)
    for checkout, then its run to its end. Measured from just before the POST to the run
    record's ``started_at`` (the alert matched, its plan made and approved by the standing
    approval, the run recorded) and to its ``ended_at`` (a kernel booted, since the
    automated run does not use the kernel pool, and the two cells run), both the store's
    own timestamps, so polling adds nothing.
(b) ``wrk`` (C, another process; Debian: ``apt-get install wrk``), CLIENTS connections for
    SECONDS, POSTs Alertmanager webhooks for billing: first each with a NEW fingerprint (a
    Lua counter: every request records an alert), then the SAME one again and again (what
    Alertmanager's retries and repeat notifications are: nothing recorded twice). Prints
    accepted alerts per second, p50/p99 and errors, and checks the store holds exactly one
    record per distinct alert.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from api_list_runs_load import _store, serving

BIN = Path(sys.executable).parent
BEARER = "bench-alertmanager-bearer"
CATALOG = {
    "services": [{"name": "checkout"}, {"name": "billing"}],
    "error_codes": [{"code": "E-DISK", "title": "Disk almost full", "severity": "critical"}],
    "procedures": [
        {"name": "disk-platform", "code": "E-DISK", "runbook": "clean", "policy": "manual",
         "parameters": {"host": "{{ labels.instance }}"}},
        {"name": "disk-checkout", "code": "E-DISK", "for": "service:checkout",
         "runbook": "clean", "policy": "auto", "parameters": {"host": "{{ labels.instance }}"}},
    ],
}  # fmt: skip
LUA = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, string.format(BODY, id, counter))
end
"""


def build(root: Path, env: dict[str, str]) -> str:
    """The repository of the module docstring; a viewer's token secret."""
    import nbformat
    import yaml

    def runbook(*args: str) -> str:
        done = subprocess.run(
            [BIN / "runbook", *args], cwd=root, check=True, capture_output=True, text=True,
            env={**env, "RUNBOOK_USER": "bench"},
        )  # fmt: skip
        return done.stdout

    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["runbook"] = {
        "title": "Clean", "tags": ["critical"],  # needs review: the standing approval gives it
        "parameters": {"host": {"type": "str", "required": True}},
    }  # fmt: skip
    notebook.cells = [
        nbformat.v4.new_code_cell("host = 'none'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('cleaning', host)"),
    ]
    nbformat.write(notebook, root / "runbooks" / "clean.ipynb")
    (root / "catalog" / "catalog.yml").write_text(yaml.safe_dump(CATALOG))
    config = root / "runbook.toml"
    config.write_text(
        config.read_text()
        + "\n[catalog]\ncooldown_seconds = 0\nruns_per_hour = 1000000\n"
        + '[catalog.sources.prod]\nkind = "alertmanager"\nsecret_env = "RUNBOOK_ALERT_PROD"\n'
    )
    runbook("catalog", "import")
    runbook(
        "approve-standing", "clean", "--for", "catalog:disk-checkout", "--bound",
        "host=~web[0-9]+", "--as", "reviewer",
    )  # fmt: skip
    token = runbook("token", "create", "--user", "bench", "--role", "viewer", "--json")
    return str(json.loads(token)["secret"])


def webhook(service: str, fingerprint: str) -> dict[str, Any]:
    """Alertmanager's version 4 body with one firing alert."""
    alert = {
        "status": "firing", "annotations": {}, "fingerprint": fingerprint,
        "labels": {"service": service, "error_code": "E-DISK", "instance": "web1"},
        "startsAt": "2026-12-04T01:00:00Z",
    }  # fmt: skip
    return {"version": "4", "status": "firing", "alerts": [alert]}


def run_latencies(url: str, viewer: str, runs: int) -> list[tuple[float, float]]:
    """(a): seconds from the POST to the run's start and to its end."""
    reader = {"Authorization": f"Bearer {viewer}"}
    source = {"Authorization": f"Bearer {BEARER}"}
    figures = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for number in range(runs + 1):  # the first one warms the server up: not counted
            sent = time.time()
            answer = client.post(
                "/alerts/alertmanager/prod", json=webhook("checkout", f"run-{number}"),
                headers=source,
            ).json()["alerts"][0]  # fmt: skip
            assert answer["action"] == "auto", answer
            run = _wait(client, reader, answer["id"])
            started = datetime.fromisoformat(run["started_at"]).timestamp()
            ended = datetime.fromisoformat(run["ended_at"]).timestamp()
            if number:
                figures.append((started - sent, ended - sent))
    return figures


def _wait(client: httpx.Client, reader: dict[str, str], alert_id: str) -> dict[str, Any]:
    """The alert's run once it ended (polls the records; the figures are their timestamps)."""
    while True:
        found = client.get("/alerts", params={"service": "checkout", "limit": 5}, headers=reader)
        mine = next(a for a in found.json() if a["id"] == alert_id)
        if mine["run_id"]:
            run = client.get(f"/runs/{mine['run_id']}", headers=reader).json()
            if run["state"] != "running":
                assert run["state"] == "succeeded", run
                return dict(run)
        time.sleep(0.05)


def accepted(url: str, clients: int, seconds: float, distinct: bool) -> dict[str, float]:
    """(b): wrk POSTing billing's webhooks, each a new alert or all the same one."""
    with tempfile.TemporaryDirectory() as folder:
        body = json.dumps(webhook("billing", "FINGERPRINT"))
        if distinct:
            body = body.replace("%", "%%").replace("FINGERPRINT", "wrk-%s-%d")
            script = f"BODY = {json.dumps(body)}\n" + LUA
        else:
            script = f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n"
        script += (
            f'wrk.headers["Authorization"] = "Bearer {BEARER}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        path = Path(folder) / "alerts.lua"
        path.write_text(script)
        return _wrk(f"{url}/alerts/alertmanager/prod", clients, seconds, path)


def _wrk(url: str, clients: int, seconds: float, script: Path) -> dict[str, float]:
    """wrk's figures: requests, rate, p50/p99 in ms, errors (socket errors and non-2xx)."""
    command = [
        "wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}", "--latency",
        "--timeout", "10", "-s", str(script), url,
    ]  # fmt: skip
    printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", printed, re.M)
        assert found, printed
        return float(found.group(1)) * unit[found.group(2)]

    def number(pattern: str) -> float:
        found = re.search(pattern, printed)
        return float(found.group(1)) if found else 0.0

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", printed))
    return {
        "requests": number(r"(\d+) requests in"),
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": errors + number(r"Non-2xx or 3xx responses: (\d+)"),
    }


def billing_records(url: str, viewer: str) -> list[str]:
    """The fingerprints of billing's alert records (paged through GET /alerts)."""
    found: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            page = client.get(
                "/alerts", params={"service": "billing", "limit": 1000, "offset": len(found)},
                headers={"Authorization": f"Bearer {viewer}"},
            ).json()  # fmt: skip
            found += [alert["fingerprint"] for alert in page]
            if len(page) < 1000:
                return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk on PATH (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as folder, _store(args.postgres) as store_url:
        env = {**os.environ, "RUNBOOK_ALERT_PROD": BEARER}
        env |= {"RUNBOOK_DB_URL": store_url} if store_url else {}
        root = Path(folder) / "ops"
        viewer = build(root, env)
        with serving(root, 1, env) as url:
            latencies = run_latencies(url, viewer, args.runs)
            new = accepted(url, args.clients, args.seconds, distinct=True)
            same = accepted(url, args.clients, args.seconds, distinct=False)
            records = billing_records(url, viewer)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"alerts over HTTP on {store}, one serve process, {os.cpu_count()} cores")
    starts = sorted(s for s, _ in latencies)
    ends = sorted(e for _, e in latencies)
    print(
        f"(a) webhook -> run recorded: median {starts[len(starts) // 2] * 1e3:.0f} ms, "
        f"max {starts[-1] * 1e3:.0f} ms; -> run ended: median "
        f"{ends[len(ends) // 2] * 1e3:.0f} ms, max {ends[-1] * 1e3:.0f} ms ({args.runs} runs)"
    )
    for what, figures in (("new alerts", new), ("repeated deliveries", same)):
        print(
            f"(b) {what}: {figures['rps']:.0f} alerts/s accepted, p50 {figures['p50']:.1f} ms, "
            f"p99 {figures['p99']:.1f} ms, errors {figures['errors']:.0f} "
            f"({args.clients} connections, {args.seconds:g} s, wrk)"
        )
    distinct = [f for f in records if f.startswith("wrk-")]
    print(
        f"records: {len(distinct)} distinct for wrk's {new['requests']:.0f} answered new "
        f"alerts (those in flight when wrk stopped are recorded too), "
        f"{records.count('FINGERPRINT')} for {same['requests']:.0f} deliveries of one"
    )


if __name__ == "__main__":
    main()
