"""How fast the catalog answers: lookups in a catalog of 200 services x 50 error codes.

Usage: .venv/bin/python bench/catalog_lookup.py [N]   (default N=2000 lookups)

The catalog: 50 platform procedures (one per code), 10 tag procedures, and 2 overrides, 1
extension and 1 suppression per service (800 service rules): 860 rules in all. It is
imported once into a fresh repository's SQLite store; then N random (service, code) pairs are
looked up in process, as an alert or an API request does (read the newest revision, resolve),
and the median and 99th percentile printed. Then 500 distinct alerts (manual policy) are
received, for alerts accepted per second, and one whole `runbook catalog lookup` process is
timed (start-up included).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import yaml
from sqlalchemy.orm import sessionmaker

from runbook.config import database_url
from runbook.model.catalog.alert_payloads import Alert
from runbook.model.repository import find_repository
from runbook.orchestrate.catalog.alerts import receive_alert
from runbook.orchestrate.catalog.catalog_files import import_catalog
from runbook.orchestrate.catalog.catalog_queries import lookup
from runbook.orchestrate.initialize import init_repository
from runbook.store.db import ensure_schema, make_engine

SERVICES, CODES = 200, 50
BIN = Path(sys.executable).parent


def build(root: Path) -> None:
    """A repository with one runbook and the catalog described in the module docstring."""
    init_repository(root)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["runbook"] = {
        "title": "Answer",
        "parameters": {"host": {"type": "str", "default": "none"}},
    }
    notebook.cells = [nbformat.v4.new_code_cell("host = 'none'", metadata={"tags": ["parameters"]})]
    nbformat.write(notebook, root / "runbooks" / "answer.ipynb")
    codes = [f"E-{i:03d}" for i in range(CODES)]
    services = [
        {"name": f"svc-{i:03d}", "team": f"team-{i % 20}", "tags": [f"tag-{i % 10}"]}
        for i in range(SERVICES)
    ]
    rules = [
        {
            "name": f"platform-{c}",
            "code": c,
            "runbook": "answer",
            "parameters": {"host": "{{ labels.instance }}"},
            "policy": "suggest" if n < 40 else "manual",
        }
        for n, c in enumerate(codes)
    ]
    rules += [
        {"name": f"tag-{t}", "code": codes[t], "for": f"tag:tag-{t}", "runbook": "answer"}
        for t in range(10)
    ]
    for i in range(SERVICES):
        mine = [codes[(i + k) % CODES] for k in range(4)]
        rules += [
            {
                "name": f"svc-{i:03d}-o1",
                "code": mine[0],
                "for": f"service:svc-{i:03d}",
                "runbook": "answer",
            },
            {
                "name": f"svc-{i:03d}-o2",
                "code": mine[1],
                "for": f"service:svc-{i:03d}",
                "runbook": "answer",
                "match": {"env": "prod"},
            },
            {
                "name": f"svc-{i:03d}-x",
                "code": mine[2],
                "for": f"service:svc-{i:03d}",
                "mode": "extend",
                "runbook": "answer",
            },
            {
                "name": f"svc-{i:03d}-s",
                "code": mine[3],
                "for": f"service:svc-{i:03d}",
                "mode": "suppress",
            },
        ]
    (root / "catalog" / "services.yml").write_text(yaml.safe_dump({"services": services}))
    (root / "catalog" / "codes.yml").write_text(
        yaml.safe_dump({"error_codes": [{"code": c, "title": c} for c in codes]})
    )
    (root / "catalog" / "procedures.yml").write_text(yaml.safe_dump({"procedures": rules}))


def main() -> None:
    """Build, import, time."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ops"
        build(root)
        repo = find_repository(root)
        engine = make_engine(database_url(root))
        ensure_schema(engine)
        sessions = sessionmaker(engine)
        started = time.perf_counter()
        with sessions.begin() as session:
            import_catalog(session, repo, imported_by="bench")
        print(f"import (validate 860 rules, store): {time.perf_counter() - started:.2f} s")
        pairs = [
            (f"svc-{random.randrange(SERVICES):03d}", f"E-{random.randrange(CODES):03d}")
            for _ in range(count)
        ]
        times = []
        with sessions() as session:
            lookup(session, *pairs[0])  # the first parses the stored catalog once
            for service, code in pairs:
                begin = time.perf_counter()
                lookup(session, service, code)
                times.append(time.perf_counter() - begin)
        times.sort()
        print(
            f"lookup in process, {count} times: median {statistics.median(times) * 1000:.2f} ms, "
            f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms"
        )
        at = datetime.now(UTC)
        begin = time.perf_counter()
        for n in range(500):
            receive_alert(
                sessions,
                repo,
                Alert(
                    source="alertmanager",
                    fingerprint=f"f{n}",
                    starts_at=at - timedelta(seconds=n),
                    status="firing",
                    labels={"service": "svc-001", "error_code": "E-042", "instance": "web1"},
                ),
            )
        rate = 500 / (time.perf_counter() - begin)
        print(f"alerts received (manual policy, SQLite): {rate:.0f} per second")
        begin = time.perf_counter()
        subprocess.run(
            [BIN / "runbook", "catalog", "lookup", "svc-007", "E-020"],
            cwd=root,
            check=True,
            capture_output=True,
        )
        print(f"`runbook catalog lookup` whole process: {time.perf_counter() - begin:.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
