"""Shared artifacts: a run executed by one ``runbook serve`` is served by another that shares
only the PostgreSQL store and an S3 bucket (moto's server), not a disk or a checkout."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from runbook.model.repository import Repository, find_repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.cli.test_workflow_command import two_step_inputs
from tests.s3 import SECRET_KEY, Bucket, moto_bucket

pytestmark = [pytest.mark.postgres, pytest.mark.kernel, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@pytest.fixture
def store() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"runbook_art_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def bucket() -> Iterator[Bucket]:
    with moto_bucket() as made:
        yield made


def _checkout(folder: Path, bucket: Bucket) -> Repository:
    """A repository of its own whose artifacts go to ``bucket``."""
    done = subprocess.run(
        [RUNBOOK, "init", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    config = folder / "runbook.toml"
    config.write_text(
        config.read_text()
        + f'\n[service]\nartifacts = "s3://{bucket.name}/artifacts"\n'
        + f'artifacts_endpoint = "{bucket.endpoint}"\n'
    )
    repo = find_repository(folder)
    write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [
            ("code", "print('restarted ' + 'web')", []),
            (
                "code",
                "import os\nprint('aws:', os.environ.get('AWS_SECRET_ACCESS_KEY', 'absent'))",
                [],
            ),
        ],
        title="Restart",
    )
    return repo


@contextmanager
def _serve(repo: Repository, env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """`runbook serve` on ``repo``: its base URL, and (after it stopped) its log lines."""
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0"],
        cwd=repo.root,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    lines: list[str] = []
    try:
        for line in server.stderr:  # wait on the startup line, however long it takes
            lines.append(line)
            match = STARTED.search(line)
            if match:
                break
        else:
            pytest.fail("runbook serve ended before it listened:\n" + "".join(lines))
        yield f"http://127.0.0.1:{match.group(1)}", lines
    finally:
        server.send_signal(signal.SIGTERM)
        lines.extend(server.communicate(timeout=120)[1].splitlines())


def _wait(check: object, what: str) -> None:
    """Until ``check()`` holds: bounded by a deadline only a hang reaches."""
    deadline = time.monotonic() + 300
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.1)


def test_a_run_executed_on_one_server_is_served_by_another(
    tmp_path: Path, store: str, bucket: Bucket
) -> None:
    first = _checkout(tmp_path / "a" / "ops", bucket)
    second = _checkout(tmp_path / "b" / "ops", bucket)
    env = {"RUNBOOK_DB_URL": store, **bucket.environ}
    created = runbook(first, "token", "create", "--user", "alice", "--role", "operator",
                      "--json", **env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {json.loads(created.stdout)['secret']}"}

    with _serve(first, env) as (url_a, log_a), _serve(second, env) as (url_b, log_b):
        plan = httpx.post(f"{url_a}/plans", json={"runbook": "restart"}, headers=auth, timeout=60)
        assert plan.status_code == 201, plan.text
        started = httpx.post(
            f"{url_a}/runs", json={"plan": plan.json()["id"]}, headers=auth, timeout=120
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["run"]
        notebook_key = f"artifacts/{run_id}/{plan.json()['id']}.ipynb"
        _wait(lambda: notebook_key in bucket.object_keys(), "the upload of the run's notebook")
        assert {f"artifacts/{run_id}/log.jsonl", f"artifacts/{run_id}/report.html"} <= set(
            bucket.object_keys()
        )
        shown = httpx.get(f"{url_b}/runs/{run_id}", headers=auth, timeout=60).json()
        assert shown["state"] == "succeeded", shown

        notebook = httpx.get(f"{url_b}/runs/{run_id}/notebook", headers=auth, timeout=60)
        assert notebook.status_code == 200, notebook.text
        outputs = [o for c in notebook.json()["cells"] for o in c.get("outputs", [])]
        assert any("restarted web" in o.get("text", "") for o in outputs)
        # The kernel never saw the object store's credentials.
        assert any("aws: absent" in o.get("text", "") for o in outputs), outputs
        report = httpx.get(f"{url_b}/runs/{run_id}/report.html", headers=auth, timeout=120)
        assert report.status_code == 200, report.text
        assert "restarted web" in report.text and "<script" not in report.text.lower()
        assert "script-src" not in report.headers["content-security-policy"]
        assert "default-src 'none'" in report.headers["content-security-policy"]
        markdown = httpx.get(f"{url_b}/runs/{run_id}/report.md", headers=auth, timeout=120)
        assert markdown.status_code == 200 and "restarted web" in markdown.text
        log = httpx.get(f"{url_b}/runs/{run_id}/log", headers=auth, timeout=60)
        assert '"cell.output"' in log.text
        anonymous = httpx.get(f"{url_b}/runs/{run_id}/notebook", timeout=60)
        assert anonymous.status_code == 401
        missing = httpx.get(f"{url_b}/runs/no-such-run/notebook", headers=auth, timeout=60)
        assert missing.status_code in {404, 422}

        # A workflow's task runs, executed in A's background, are served by B too.
        two_step_inputs(first, "print('second got', upstream)")
        body = {"parameters": {"greeting": "hi"}, "date": "2016-01-07"}
        workflow = httpx.post(f"{url_a}/workflows/pair/runs", json=body, headers=auth, timeout=120)
        assert workflow.status_code == 202, workflow.text
        shown_run = f"{url_a}/workflow-runs/{workflow.json()['id']}"
        _wait(
            lambda: httpx.get(shown_run, headers=auth, timeout=60).json()["state"] != "running",
            "the end of the workflow run",
        )
        tasks = httpx.get(shown_run, headers=auth, timeout=60).json()["tasks"]
        assert [t["state"] for t in tasks] == ["succeeded", "succeeded"], tasks
        second_task = tasks[1]["run"]
        _wait(
            lambda: f"artifacts/{second_task}/log.jsonl" in bucket.object_keys(),
            "the upload of the task's run",
        )
        served_task = httpx.get(f"{url_b}/runs/{second_task}/report.md", headers=auth, timeout=120)
        assert served_task.status_code == 200, served_task.text
        assert "second got" in served_task.text

    # Server B never had the run's files on its disk: it read them from the bucket.
    assert not (second.runs_dir / run_id).exists()
    # `runbook export` in B's checkout writes the report from the bucket too.
    shutil.rmtree(first.runs_dir / run_id)
    exported = runbook(second, "export", run_id, "--to", "md", "--json", **env)
    assert exported.returncode == 0, exported.stderr
    written = second.root / json.loads(exported.stdout)["path"]
    assert "restarted web" in written.read_text()
    # The object store's secret is in no log line of either server.
    assert not [line for line in log_a + log_b if SECRET_KEY in line]
