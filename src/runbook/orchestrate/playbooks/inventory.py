"""Reading a playbook's inventory when a run starts (and again to notice drift).

The four sources of :data:`runbook.model.playbooks.playbook.InventorySpec`:

- static targets, already checked when the playbook was loaded;
- a YAML or JSON file inside the repository;
- a command run without a shell, from the repository root, printing JSON;
- JSON over HTTP, through the egress policy.

A source answers a list of targets or ``{"targets": [...]}`` (for HTTP, after selecting
``field``), and its targets are checked with the playbook's own rules. Every problem raises
ConfigError for a bad file, DataSourceError for a command or server that fails or answers
badly, naming the source and, for a bad target, its place (``targets[2].name``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, DataSourceError, EgressError, PathEscapeError, redact_url
from runbook.model.files import read_failure, read_text
from runbook.model.playbooks.playbook import (
    CommandInventory,
    FileInventory,
    HttpInventory,
    InventorySpec,
    StaticInventory,
    Target,
)
from runbook.model.playbooks.playbook_inventory import parse_targets
from runbook.model.repository import resolve_inside
from runbook.model.yaml_files import MAX_DEPTH, parse_yaml, too_deep
from runbook.secrets import resolve_reference

#: A bad inventory file is configuration; a bad answer from a command or server is its source's.
Failing = ConfigError | DataSourceError
_SECRET_WORD = re.compile(r"^(env|file|secret):\S+$")


def read_inventory(
    inventory: InventorySpec, repo_root: Path, policy: EgressPolicy, timeout: float = 60
) -> list[Target]:
    """The targets ``inventory`` lists now, in the source's order (possibly none).

    ``timeout`` (seconds) bounds a command, and an HTTP request together with the policy's
    own timeout (the shorter wins). Raises ConfigError for a file outside the repository or
    unreadable, invalid JSON or YAML, a document that is not a list of targets, an invalid
    or duplicate target, a command that is not found, fails or times out, and an HTTP answer
    other than 200 or a request the egress policy refuses.
    """
    if isinstance(inventory, StaticInventory):
        return list(inventory.targets)
    if isinstance(inventory, FileInventory):
        return _from_file(inventory.path, repo_root)
    if isinstance(inventory, CommandInventory):
        return _from_command(inventory.argv, repo_root, timeout)
    return _from_http(inventory, policy, timeout)


def _from_file(user_path: str, repo_root: Path) -> list[Target]:
    where = user_path
    try:
        path = resolve_inside(repo_root, user_path, strict=True)
    except PathEscapeError as error:
        raise ConfigError(where, f"inventory file {error.reason}") from None
    suffix = PurePosixPath(user_path).suffix.lower()
    if suffix not in (".json", ".yml", ".yaml"):
        raise ConfigError(where, "an inventory file must be .yml, .yaml or .json")
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ConfigError(where, "no such inventory file") from None
    except (OSError, ValueError) as error:
        raise ConfigError(where, f"cannot read the inventory file: {read_failure(error)}") from None
    if suffix == ".json":
        return _targets(_json(text, where, "the file"), where)
    document, problem = parse_yaml(text, where)
    if problem is not None:
        raise ConfigError(problem.where, problem.reason)
    return _targets(document, where)


def _from_command(argv: tuple[str, ...], repo_root: Path, timeout: float) -> list[Target]:
    if not argv:
        raise ConfigError("inventory command", "no command given")
    where = f"inventory command {argv[0]}"
    try:
        # cwd: a relative program such as ./list-hosts is found in the repository.
        done = subprocess.run(
            list(argv),
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise DataSourceError(where, "program not found") from None
    except OSError as error:
        raise DataSourceError(where, f"cannot run: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        raise DataSourceError(where, f"timed out after {timeout:g} s") from None
    except UnicodeDecodeError:
        raise DataSourceError(where, "printed something that is not UTF-8 text") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "")
        raise DataSourceError(where, f"exited with status {done.returncode}: {first.strip()}")
    document = _json(done.stdout, where, "the command", DataSourceError)
    return _targets(document, where, DataSourceError)


def resolve_header(value: str) -> str:
    """``value`` with each word that is a secret reference replaced by the secret.

    ``Authorization: "Bearer secret:CMDB_TOKEN"`` keeps the token out of the playbook and
    out of the frozen copy in every run record: it is read from the environment or a
    secret file (``env:VAR``, ``file:PATH``, ``secret:NAME``) only when the inventory is.
    """
    return " ".join(
        resolve_reference(word) if _SECRET_WORD.match(word) else word for word in value.split(" ")
    )


def _from_http(inventory: HttpInventory, policy: EgressPolicy, timeout: float) -> list[Target]:
    where = redact_url(inventory.url)
    bounded = dataclasses.replace(policy, timeout=min(policy.timeout, timeout))
    try:
        headers = {name: resolve_header(value) for name, value in inventory.headers.items()}
        status, body = bounded.request("GET", inventory.url, headers=headers)
    except EgressError as error:
        verdict = "refused by the egress policy: " if error.refused else ""
        raise DataSourceError(where, f"{verdict}{error.reason}") from None
    if status != 200:
        raise DataSourceError(where, f"the server answered {status}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DataSourceError(where, "the server did not answer UTF-8 text") from None
    document = _json(text, where, "the server", DataSourceError)
    if inventory.field is not None:
        if not isinstance(document, dict) or inventory.field not in document:
            raise DataSourceError(where, f"JSON answer has no field {inventory.field!r}")
        document = document[inventory.field]
    return _targets(document, where, DataSourceError)


def _json(text: str, where: str, who: str, failure: type[Failing] = ConfigError) -> Any:
    too_deep_reason = f"{who} gave JSON nested deeper than {MAX_DEPTH} levels"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"{who} did not give valid JSON: {error.msg} (line {error.lineno})"
        raise failure(where, reason) from None
    except RecursionError:
        raise failure(where, too_deep_reason) from None
    if too_deep(document):
        raise failure(where, too_deep_reason)
    return document


def _targets(document: object, where: str, failure: type[Failing] = ConfigError) -> list[Target]:
    targets, errors = parse_targets(document)
    if errors:
        first = errors[0]
        others = len(errors) - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise failure(f"{where}: {first.where}", f"{first.reason}{more}")
    return targets
