"""200 concurrent clients listing runs (`GET /runs`) against a real `runbook serve`.

Usage: .venv/bin/python bench/api_list_runs_load.py [--clients 200] [--seconds 10]
           [--runs 300] [--postgres] [--generator wrk|asyncio] [--workers N]

A repository with RUNS finished runs in its store (SQLite, or with --postgres a database
of its own on 127.0.0.1:5432, created and dropped here), a viewer's token from `runbook
token create`, and `runbook serve --kernel-pool 0` on loopback. The load comes from
ANOTHER process, bounded in time, every client on its own keep-alive connection:

- ``wrk`` (C; Debian: ``apt-get install wrk``), used when it is on PATH: ``wrk -t2
  -cCLIENTS -dSECONDS --latency``; it reports p50/p99 of every request it made;
- ``asyncio``: this file's own generator (``--generate``), raw asyncio streams, one
  connection per client, HTTP/1.1 keep-alive, in a subprocess.

Prints requests per second, p50/p99 latency and errors (non-200 answers, socket errors,
timeouts). Targets on 2 cores: >= 1,000 req/s, p99 < 50 ms, 0 errors. The load generator
shares the machine's cores with the server, as it does on any one box.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def build(root: Path, runs: int, env: dict[str, str]) -> str:
    """A repository with one planned runbook and ``runs`` finished runs of it in its store;
    returns a viewer's token secret."""
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells.append(nbformat.v4.new_code_cell("print('hello')"))
    nbformat.write(notebook, root / "runbooks" / "bench.ipynb")

    def runbook(*args: str) -> str:
        done = subprocess.run(
            [BIN / "runbook", *args], cwd=root, check=True, capture_output=True, text=True,
            env={**env, "RUNBOOK_USER": "bench"},
        )  # fmt: skip
        return done.stdout

    plan_id = json.loads(runbook("plan", "bench", "--json"))["id"]
    seed_runs(root, plan_id, runs, env)
    token = runbook("token", "create", "--user", "bench", "--role", "viewer", "--json")
    return str(json.loads(token)["secret"])


def seed_runs(root: Path, plan_id: str, runs: int, env: dict[str, str]) -> None:
    """``runs`` finished runs of ``plan_id``, written through the store's own record
    function (executing hundreds of real runs would only make the bench slow)."""
    os.environ.update(env)
    from sqlalchemy.orm import Session

    from runbook.model.repository import find_repository
    from runbook.model.run import Run, RunMode, RunState
    from runbook.orchestrate.store_access import open_store
    from runbook.store.runs import create_run

    repository = find_repository(root)
    engine = open_store(repository)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with Session(engine) as session:
        for i in range(runs):
            at = start + timedelta(minutes=i)
            run_id = f"{at:%Y%m%d-%H%M%S}-{i % 65536:04x}"
            create_run(
                session,
                Run(
                    id=run_id, plan_id=plan_id, executor="bench", mode=RunMode.INTERACTIVE,
                    state=RunState.SUCCEEDED, started_at=at, ended_at=at + timedelta(seconds=2),
                    notebook_path=f".runbook/runs/{run_id}/bench.ipynb", lease_owner="bench",
                ),
            )  # fmt: skip
        session.commit()
    engine.dispose()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on 127.0.0.1:5432, dropped afterwards: its URL."""
    import sqlalchemy

    name = f"bench_list_{os.getpid()}"
    admin = sqlalchemy.create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES + name
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def serving(root: Path, workers: int, env: dict[str, str]) -> Iterator[str]:
    """`runbook serve --port PORT --kernel-pool 0 [--workers N]` in ``root``: its URL."""
    import socket

    with socket.socket() as probe:  # --workers needs a fixed port: find a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [BIN / "runbook", "serve", "--port", str(port), "--kernel-pool", "0"]
    if workers > 1:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    # One process: its app starts, then it listens; several: the supervisor listens, then
    # each worker's app starts.
    started, listening = 0, False
    for line in server.stderr:
        started += "Application startup complete" in line
        listening = listening or "Uvicorn running on" in line
        if listening and started >= workers:
            break
    else:
        raise SystemExit(f"runbook serve exited ({server.wait()}) before listening")
    drain = subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        drain.wait(30)


def with_wrk(url: str, secret: str, clients: int, seconds: float) -> dict[str, float]:
    """Load from ``wrk``: its figures."""
    command = [
        "wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}", "--latency", "--timeout", "5",
        "-H", f"Authorization: Bearer {secret}", f"{url}/runs",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    printed = done.stdout
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", printed, re.M)
        assert found, printed
        return float(found.group(1)) * unit[found.group(2)]

    total = int(re.search(r"(\d+) requests in", printed).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", printed))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", printed)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", printed).group(1))  # type: ignore[union-attr]
    return {"requests": total, "rps": rps, "p50": latency("50"), "p99": latency("99"),
            "errors": errors}  # fmt: skip


def with_asyncio(url: str, secret: str, clients: int, seconds: float) -> dict[str, float]:
    """Load from this file's asyncio generator, in a process of its own: its figures."""
    command = [sys.executable, __file__, "--generate", url, secret, str(clients), str(seconds)]
    printed = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(printed))


async def _client(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[str]
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        errors.append(f"connect: {error}")
        return
    try:
        while time.perf_counter() < until:
            sent = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await asyncio.wait_for(reader.readexactly(length), 5)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode())
            else:
                latencies.append(time.perf_counter() - sent)
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        writer.close()


async def _generate(url: str, secret: str, clients: int, seconds: float) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /runs HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {secret}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_client(host, int(port), request, until, latencies, errors) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50": cuts[49] * 1e3, "p99": cuts[98] * 1e3, "errors": len(errors)}  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        url, secret, clients, seconds = sys.argv[2:6]
        print(json.dumps(asyncio.run(_generate(url, secret, int(clients), float(seconds)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--generator", choices=("wrk", "asyncio"))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    generator = args.generator or ("wrk" if shutil.which("wrk") else "asyncio")
    load = with_wrk if generator == "wrk" else with_asyncio
    with tempfile.TemporaryDirectory() as folder, _store(args.postgres) as store_url:
        env = {**os.environ, **({"RUNBOOK_DB_URL": store_url} if store_url else {})}
        root = Path(folder) / "ops"
        secret = build(root, args.runs, env)
        with serving(root, args.workers, env) as url:
            load(url, secret, 10, 1)  # warm-up: connections, caches, the sweep's first pass
            figures = load(url, secret, args.clients, args.seconds)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"GET /runs ({args.runs} runs in the store, 50 per page) on {store}, "
        f"{args.workers} serve process(es), {args.clients} clients for {args.seconds:g} s "
        f"({generator}), "
        f"{os.cpu_count()} cores"
    )
    print(
        f"requests {figures['requests']:.0f}  {figures['rps']:.0f} req/s  "
        f"p50 {figures['p50']:.1f} ms  p99 {figures['p99']:.1f} ms  errors {figures['errors']:.0f}"
    )
    print("targets: >= 1000 req/s, p99 < 50 ms, 0 errors")
    print(
        f"ratio to target: req/s {figures['rps'] / 1000:.2f}x of 1000, "
        f"p99 {figures['p99'] / 50:.2f}x of 50 ms"
    )


@contextmanager
def _store(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    with postgres_database() as url:
        yield url


if __name__ == "__main__":
    main()
