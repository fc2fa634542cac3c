"""Secrets from the environment or from secret files, resolved only when they are needed.

A secret is named, never written down: ``env:VAR`` reads an environment variable,
``file:PATH`` reads a file, and ``secret:NAME`` tries the variable ``NAME`` (and its upper-case
form), then ``NAME_FILE`` pointing at a file, then ``<secrets dir>/NAME`` (``RUNBOOK_SECRETS_DIR``,
default ``/run/secrets``, where Docker and Kubernetes mount them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from runbook.credentials import environment
from runbook.errors import ConfigError

DEFAULT_SECRETS_DIR: Final = "/run/secrets"


def secrets_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder searched for secret files."""
    env = os.environ if environ is None else environ
    return Path(env.get("RUNBOOK_SECRETS_DIR") or DEFAULT_SECRETS_DIR)


def find_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the secret ``name``, or None when no source holds it."""
    env = environment() if environ is None else environ
    for variable in dict.fromkeys((name, name.upper())):
        if env.get(variable):
            return env[variable]
        pointer = env.get(f"{variable}_FILE")
        if pointer:
            return _read_secret_file(Path(pointer), f"{variable}_FILE")
    candidate = secrets_dir(env) / name
    if candidate.is_file():
        return _read_secret_file(candidate, str(candidate))
    return None


def resolve_reference(reference: str, environ: Mapping[str, str] | None = None) -> str:
    """The value a secret reference points at; ConfigError naming the reference if none."""
    env = environment() if environ is None else environ
    scheme, _, target = reference.partition(":")
    value: str | None
    if scheme == "env":
        value = env.get(target) or None
    elif scheme == "file":
        value = _read_secret_file(Path(target), reference)
    elif scheme == "secret":
        value = find_secret(target, env)
    else:
        raise ConfigError(reference, "not a secret reference (env:VAR, file:PATH, secret:NAME)")
    if value is None:
        raise ConfigError(reference, "secret not found (no such variable or file)")
    return value


def _read_secret_file(path: Path, where: str) -> str:
    try:
        # Secret files conventionally end with one newline that is not part of the value.
        return path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except OSError as error:
        raise ConfigError(where, f"cannot read secret file {path}: {error.strerror}") from None
