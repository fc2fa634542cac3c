"""``runbook serve --workers 2``: two server processes on one port, stopped together.

Waits on the server's own log lines (listening, each worker's start-up and shutdown), never
on time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess

import httpx
import pytest

from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK, runbook


@pytest.mark.slow
def test_two_workers_share_the_port_and_stop_together(repo: Repository) -> None:
    created = runbook(repo, "token", "create", "--user", "vera", "--role", "viewer", "--json")
    assert created.returncode == 0, created.stderr
    secret = re.search(r'"secret": "([^"]+)"', created.stdout)
    assert secret is not None
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0", "--kernel-pool", "0", "--workers", "2"],
        cwd=repo.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its workers share its process group
    )
    try:
        assert server.stderr is not None
        url, started = None, 0
        for line in server.stderr:
            found = re.search(r"Uvicorn running on (http://\S+) with 2 workers", line)
            url = found.group(1) if found else url
            started += "Application startup complete" in line
            if url and started == 2:
                break
        assert url is not None and started == 2, "the workers never started"
        headers = {"Authorization": f"Bearer {secret.group(1)}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            answers = [client.get("/me") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 6
        assert {a.json()["user"] for a in answers} == {"vera"}
        server.send_signal(signal.SIGTERM)
        rest = server.stderr.read()
        server.stderr.close()
        assert server.wait(60) == 0
        assert rest.count("Application shutdown complete") == 2
    finally:
        if server.poll() is None:  # a failed assertion: stop it (and its workers)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
