"""The server side's credentials: never in a kernel's or shell step's environment.

One list names them: the store's (``RUNBOOK_DB_*``, ``AUTOFLOW_DB_*``), libpq's secrets and
the cloud SDKs' keys. :func:`scrubbed` drops them from an environment handed to a child.

Dropping them from children is not enough: ``/proc/<pid>/environ`` of the runbook process
shows its environment *as it was when it was executed*, to every process of the same user,
kernels included; ``os.environ.pop`` does not change it. So the command's entry point calls
:func:`protect`: when a credential is in the environment, the process writes them to a pipe
and re-executes itself with a clean environment and only the pipe's descriptor number in
``RUNBOOK_CREDENTIALS_FD``; the new process reads them once, closes the pipe and keeps them
in memory, where :func:`environment` layers them over ``os.environ`` for the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import ChainMap
from collections.abc import Mapping
from typing import Any, Final

from runbook.errors import ConfigError

#: Exact names of credential variables (``NAME_FILE`` pointers are credentials too).
CREDENTIAL_VARIABLES: Final = frozenset(
    {
        # libpq: passwords, password/service files, client keys and their passphrase.
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSSLKEY",
        "PGSSLCERT",
        "PGSSLPASSWORD",
        "PGOAUTHCLIENTSECRET",
        # AWS, Google Cloud and Azure SDKs.
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_PASSWORD",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        # The scheduler's token for FlowAPI.
        "FLOWAPI_TOKEN",
    }
)
#: Every variable starting with one of these is a credential (the store's URL and password,
#: the alert sources' webhook secrets).
CREDENTIAL_PREFIXES: Final = ("RUNBOOK_DB_", "AUTOFLOW_DB_", "RUNBOOK_ALERT_")
#: The variable holding the number of the pipe the credentials are handed over on.
HANDOVER_VARIABLE: Final = "RUNBOOK_CREDENTIALS_FD"
#: libpq variables that have a connection keyword, passed to the driver instead.
LIBPQ_KEYWORDS: Final = {
    "PGPASSWORD": "password",
    "PGPASSFILE": "passfile",
    "PGSERVICE": "service",
    "PGSSLKEY": "sslkey",
    "PGSSLCERT": "sslcert",
    "PGSSLPASSWORD": "sslpassword",
    "PGOAUTHCLIENTSECRET": "oauth_client_secret",
}
#: libpq variables without a connection keyword (a path, not a secret), set back after exec.
_PATHS_FOR_LIBPQ: Final = ("PGSERVICEFILE",)
# A pipe holds at least this much without a reader; credentials are far smaller.
_PIPE_CAPACITY: Final = 4096

_received: dict[str, str] = {}


def is_credential(name: str) -> bool:
    """Whether the environment variable ``name`` holds (or points at) a credential."""
    base = name.removesuffix("_FILE")
    return (
        name in CREDENTIAL_VARIABLES
        or base in CREDENTIAL_VARIABLES
        or name.startswith(CREDENTIAL_PREFIXES)
    )


def scrubbed(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` without any credential variable."""
    return {k: v for k, v in environ.items() if not is_credential(k)}


def environment() -> Mapping[str, str]:
    """The process's environment with the credentials handed over to it layered on top."""
    return ChainMap(_received, os.environ)


def libpq_parameters() -> dict[str, str]:
    """Connection keywords for libpq from the libpq variables handed over to this process."""
    return {LIBPQ_KEYWORDS[k]: v for k, v in _received.items() if k in LIBPQ_KEYWORDS}


def protect(argv: list[str] | None = None) -> None:
    """Take over handed credentials; re-execute without credentials in the environment.

    Called once, by the command's entry point (never by in-process callers such as tests):
    when no credential variable is set it only receives what a previous exec handed over.
    """
    receive()
    found = {k: v for k, v in os.environ.items() if is_credential(k)}
    if not found:
        return
    payload = json.dumps({**_received, **found}).encode("utf-8")
    if len(payload) > _PIPE_CAPACITY:
        raise ConfigError("environment", "the credential variables are too large to hand over")
    read_end, write_end = os.pipe()
    os.write(write_end, payload)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    env = scrubbed(os.environ)
    env[HANDOVER_VARIABLE] = str(read_end)
    sys.stdout.flush()
    sys.stderr.flush()
    command = argv if argv is not None else list(sys.orig_argv)
    os.execve(sys.executable, command, env)  # noqa: S606 - this very command, re-executed


def receive() -> None:
    """Read the credentials handed over on the pipe named by ``RUNBOOK_CREDENTIALS_FD``."""
    number = os.environ.pop(HANDOVER_VARIABLE, "")
    if not number.isdigit():
        return
    descriptor = int(number)
    chunks: list[bytes] = []
    try:
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
    except OSError:
        return  # not a pipe of ours: nothing was handed over
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    try:
        handed: Any = json.loads(b"".join(chunks))
    except ValueError:
        return
    if isinstance(handed, dict):
        _received.update({str(k): str(v) for k, v in handed.items()})
    for name in _PATHS_FOR_LIBPQ:
        # No connection keyword names these: libpq reads them from the environment only.
        # Set after the exec, they are not in /proc/<pid>/environ, and kernels are scrubbed.
        if name in _received:
            os.environ[name] = _received[name]
