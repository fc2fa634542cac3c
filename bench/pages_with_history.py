"""Server time of the web pages' list pages with history: 10,000 runs and 1,000 alerts.

Usage: .venv/bin/python bench/pages_with_history.py [--runs 10000] [--alerts 1000]
           [--repeat 20]

A repository whose SQLite store holds RUNS finished runs over 200 plans and ALERTS alert
records (a tenth of them catalog gaps), the app in this process (starlette's TestClient, so
no socket or browser is timed) signed in through /ui/login, then each list page fetched
REPEAT times: its first page, a deep page, the gaps view. Prints the median and the worst
time per page. Target: every list page is paginated and renders in under 100 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.config import database_url
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.repository import find_repository
from runbook.model.roles import Role
from runbook.model.run import Run, RunMode, RunState
from runbook.orchestrate.initialize import init_repository
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.tokens import create_token
from runbook.store.catalog_records import receive_alert_row
from runbook.store.db import ensure_schema, make_engine, session_scope
from runbook.store.runs import create_run, finish_run

PLANS = 200


def _runbook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["runbook"] = {"title": "Restart", "tags": []}
    notebook.cells = [
        nbformat.v4.new_code_cell("service = 'web'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(service)"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def fill(root: Path, runs: int, alerts: int) -> str:
    """The repository at ``root`` with its history; an admin's token."""
    init_repository(root)
    repo = find_repository(root)
    path = _runbook(repo.runbooks_dir / "restart.ipynb")
    engine = make_engine(database_url(root))
    ensure_schema(engine)
    start = datetime.now(UTC) - timedelta(days=30)
    with session_scope(engine) as session:
        plans = [
            plan_runbook(session, repo, path, {"service": f"s{i}"}, planner="alice").id
            for i in range(PLANS)
        ]
        for n in range(runs):
            at = start + timedelta(seconds=n * 10)
            run_id = f"{at:%Y%m%d-%H%M%S}-{n:04x}"
            run = Run(
                id=run_id,
                plan_id=plans[n % PLANS],
                executor="carol",
                mode=RunMode.AUTOMATIC,
                state=RunState.RUNNING,
                started_at=at,
                notebook_path=f"runs/{run_id}/run.ipynb",
                lease_owner="bench:1",
            )
            create_run(session, run)
            finish_run(session, run_id, 1, RunState.SUCCEEDED, now=at + timedelta(seconds=2))
        for n in range(alerts):
            service = "nobody" if n % 10 == 0 else f"svc{n % 50}"
            alert = Alert(
                source="alertmanager",
                fingerprint=f"f{n}",
                starts_at=start + timedelta(minutes=n),
                status="firing",
                labels={"service": service, "error_code": "E-DISK"},
                annotations={},
            )
            row, _ = receive_alert_row(session, alert, now=start + timedelta(minutes=n))
            row.action, row.detail = ("gap", "no service") if n % 10 == 0 else ("manual", "ok")
        secret = create_token(session, user="root", role=Role.ADMIN, created_by="bench").secret
    engine.dispose()
    return secret


def sign_in(client: TestClient, secret: str) -> None:
    """Sign in through the form, as a browser does."""
    form = client.get("/ui/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    done = client.post(
        "/ui/login", data={"csrf": csrf.group(1), "token": secret}, follow_redirects=False
    )
    assert done.status_code == 303, done.text


def main() -> None:
    """Fill a repository, then time each list page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        secret = fill(Path(folder) / "ops", args.runs, args.alerts)
        print(
            f"filled: {args.runs} runs, {PLANS} plans, {args.alerts} alerts "
            f"in {time.perf_counter() - began:.1f} s"
        )
        pages = [
            "/ui/runs",
            f"/ui/runs?page={args.runs // 50 // 2}",
            "/ui/plans",
            "/ui/plans?page=3",
            "/ui/alerts",
            f"/ui/alerts?page={args.alerts // 50 // 2}",
            "/ui/alerts?gap=true",
        ]
        with TestClient(create_app(find_repository(Path(folder) / "ops"))) as client:
            sign_in(client, secret)
            print(f"{'page':<28} {'median ms':>10} {'worst ms':>10}  rows")
            for url in pages:
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    answer = client.get(url)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200, (url, answer.status_code)
                rows = answer.text.count("<tr>") - 1
                median, worst = statistics.median(times), max(times)
                verdict = "ok" if median < 100 else "SLOW"
                print(f"{url:<28} {median:>10.1f} {worst:>10.1f}  {rows:>4} {verdict}")


if __name__ == "__main__":
    main()
