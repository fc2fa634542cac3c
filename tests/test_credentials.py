"""Credentials are named in one list, scrubbed from children and handed over without the env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.credentials import is_credential, scrubbed
from runbook.engine.launch import kernel_environment

CREDENTIALS = [
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICEFILE",
    "PGSSLKEY",
    "PGSSLPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_CLIENT_SECRET",
    "RUNBOOK_DB_URL",
    "RUNBOOK_DB_PASSWORD",
    "RUNBOOK_DB_PASSWORD_FILE",
    "RUNBOOK_DB_ANYTHING",
    "AUTOFLOW_DB_URI",
    "AUTOFLOW_DB_PASSWORD_FILE",
    "FLOWAPI_TOKEN",
]


@pytest.mark.parametrize("name", CREDENTIALS)
def test_every_credential_variable_is_kept_from_kernels(name: str, tmp_path: Path) -> None:
    assert is_credential(name)
    env = kernel_environment(
        run_id="r", plan_id="p", repo_root=tmp_path, dry_run=False, base={name: "x", "HOME": "/"}
    )
    assert name not in env and env["HOME"] == "/"


def test_ordinary_variables_are_kept() -> None:
    kept = {"PATH": "/bin", "PGHOST": "db", "RUNBOOK_SECRETS_DIR": "/s", "API_TOKEN": "t"}
    assert scrubbed(kept) == kept


PROGRAM = """\
import json, os, sys
from pathlib import Path
from runbook.credentials import protect, libpq_parameters
protect()
from runbook.config import database_url
print(json.dumps({
    "url": database_url(Path("/r")),
    "libpq": libpq_parameters(),
    "environ": Path("/proc/self/environ").read_text(),
    "os.environ": dict(os.environ),
    "argv": sys.argv[1:],
    "fds": sorted(os.listdir("/proc/self/fd")),
}))
"""


def test_the_command_re_executes_and_still_gets_the_password() -> None:
    env = {
        **os.environ,
        "RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb",
        "RUNBOOK_DB_PASSWORD": "s3cr3t/pw",
        "PGPASSWORD": "libpq-pw",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, "an", "argument"],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    seen = json.loads(done.stdout)
    assert seen["url"] == "postgresql://rb:s3cr3t%2Fpw@db/rb"
    assert seen["libpq"] == {"password": "libpq-pw"}
    assert seen["argv"] == ["an", "argument"]
    for where in (seen["environ"], json.dumps(seen["os.environ"])):
        assert "s3cr3t" not in where and "libpq-pw" not in where and "RUNBOOK_DB" not in where
    # Only the pipe's number was in the environment, and it is gone from os.environ.
    assert "RUNBOOK_CREDENTIALS_FD" not in seen["os.environ"]
    # The pipe was read and closed: only stdin, stdout, stderr (and listdir's own) are open.
    assert len(seen["fds"]) <= 4


def test_without_credentials_nothing_is_re_executed() -> None:
    env = {k: v for k, v in os.environ.items() if not is_credential(k)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout)["url"] == "sqlite:////r/.runbook/runbook.db"
