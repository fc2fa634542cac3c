"""What a runbook imports in its notebook: ``sh``, ``glue``, ``notify``, ``annotate``, ``secret``.

``read_scraps(path)`` reads glued values back from an executed notebook, without a kernel.
``notify`` and ``annotate`` go through the egress policy (``runbook.egress``). Importing this
module stays cheap: IPython and apprise are imported only when a helper needs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TextIO

from runbook.egress import config_root, policy_from_config
from runbook.errors import ConfigError, NotebookFormatError, redact_url
from runbook.model.dry_run import ANNOUNCED_PREFIX
from runbook.notify import notify
from runbook.secrets import find_secret, resolve_reference

__all__ = [
    "CommandError",
    "CommandTimeout",
    "ShResult",
    "annotate",
    "glue",
    "notify",
    "read_scraps",
    "secret",
    "sh",
]

DRY_RUN_ENV: Final = "RUNBOOK_DRY_RUN"
#: scrapbook's ``application/scrapbook.scrap.<encoder>+json``; papermill's legacy ``record``.
GLUE_PREFIX: Final = "application/scrapbook.scrap"
RECORD_PREFIX: Final = "application/papermill.record"
#: What ``secret()`` publishes so the engine can mask the value: a reference, never a value.
SECRET_MIMETYPE: Final = "application/vnd.runbook.secret+json"  # noqa: S105 - a mimetype

_TAIL_LINES: Final = 10
_KILL_GRACE: Final = 1.0
_READER_GRACE: Final = 2.0


@dataclass(frozen=True)
class ShResult:
    """What ``sh`` ran and what came of it (``dry_run`` when it only announced it)."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    duration: float
    dry_run: bool = False


class CommandError(subprocess.CalledProcessError):
    """A command run by ``sh`` exited with a non-zero code."""

    def __str__(self) -> str:
        code = self.returncode
        outcome = f"was killed by {signal.Signals(-code).name}" if code < 0 else "failed"
        lines = str(self.stderr or "").rstrip("\n").splitlines()[-_TAIL_LINES:]
        tail = "".join(f"\n  {line}" for line in lines)
        message = f"command {self.cmd!r} {outcome} (exit code {code})"
        return message + (f"; stderr ends:{tail}" if tail else "")


class CommandTimeout(subprocess.TimeoutExpired):
    """A command run by ``sh`` outlived its timeout; its whole process group was killed."""

    def __str__(self) -> str:
        return f"command {self.cmd!r} timed out after {self.timeout:g} s and was killed"


def sh(
    command: str | Sequence[str],
    *,
    mutative: bool = False,
    timeout: float | None = None,
    check: bool = True,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
) -> ShResult:
    """Run ``command``, stream its output into the notebook, and return what it did.

    A string is split like a shell would (``shlex``) but never goes through one: ``$(…)``,
    ``;`` and ``|`` stay literal. ``shell=True`` hands it to ``/bin/sh`` instead: only with
    text you wrote, never with parameter values, as anything in them then runs as code.
    ``env`` adds variables to the kernel's. In a dry run (``RUNBOOK_DRY_RUN=1``) a
    ``mutative=True`` command is only announced: ``ShResult(dry_run=True, returncode=0)``.
    ``timeout`` (seconds) kills the process group and raises CommandTimeout; a non-zero exit
    raises CommandError (a ``subprocess.CalledProcessError``) unless ``check=False``.
    """
    argv: str | list[str]
    if shell:
        argv = command if isinstance(command, str) else shlex.join(command)
        shown = argv
    else:
        argv = shlex.split(command) if isinstance(command, str) else [os.fspath(a) for a in command]
        if not argv:
            raise ValueError("sh: empty command")
        shown = shlex.join(argv)
    out, err = sys.stdout, sys.stderr
    if mutative and _dry_run():
        out.write(f"{ANNOUNCED_PREFIX}{shown}\n")
        return ShResult(shown, 0, "", "", 0.0, dry_run=True)
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        shell=shell,
        cwd=cwd,
        env={**os.environ, **env} if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout kills all of it
    )
    captured: tuple[list[str], list[str]] = ([], [])
    readers = [
        threading.Thread(target=_pump, args=(pipe, sink, lines), daemon=True)
        for pipe, sink, lines in (
            (process.stdout, out, captured[0]),
            (process.stderr, err, captured[1]),
        )
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process, readers)
        out.write(f"[sh] timed out after {timeout:g} s; killed\n")
        raise CommandTimeout(shown, timeout or 0.0, *map("".join, captured)) from None
    except BaseException:  # an interrupted cell must not leave the command running
        _kill_group(process, readers)
        raise
    for reader in readers:
        reader.join(_READER_GRACE)  # a daemonised grandchild may keep a pipe open
    duration = time.monotonic() - started
    out.write(f"[sh] exit {returncode} in {duration:.2f} s\n")
    out.flush()
    result = ShResult(shown, returncode, "".join(captured[0]), "".join(captured[1]), duration)
    if check and returncode != 0:
        raise CommandError(returncode, shown, result.stdout, result.stderr)
    return result


def _pump(pipe: IO[bytes], sink: TextIO, lines: list[str]) -> None:
    """Copy ``pipe`` line by line to ``sink`` (the notebook) and to ``lines``."""
    with pipe:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            lines.append(line)
            with contextlib.suppress(ValueError, OSError):  # the notebook stream was closed
                sink.write(line)
                sink.flush()


def _kill_group(process: subprocess.Popen[bytes], readers: list[threading.Thread]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(_KILL_GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
    process.wait()
    for reader in readers:
        reader.join(_READER_GRACE)


def _dry_run() -> bool:
    return os.environ.get(DRY_RUN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def glue(name: str, value: Any, encoder: str | None = None, display: bool = False) -> None:
    """Record ``value`` under ``name`` in the running notebook, in scrapbook's format.

    ``encoder``: ``"json"`` (default for JSON-serialisable values) or ``"text"`` (default for
    strings and anything else, as ``str(value)``), as scrapbook chooses. ``display=True`` also
    shows the value. Read back with ``read_scraps(path)`` or ``scrapbook.read_notebook``.
    """
    if _ipython() is None:
        raise RuntimeError("glue() works only inside a Jupyter kernel: no notebook to record in")
    if not isinstance(name, str) or not name:
        raise ValueError(f"glue: the scrap name must be non-empty text, not {name!r}")
    if encoder is None:
        encoder = "json" if not isinstance(value, str) and _is_json(value) else "text"
    if encoder == "json":
        data = json.loads(value) if isinstance(value, str) else value
        if not _is_json(data):
            raise ValueError(f"glue({name!r}): the value is not JSON-serialisable; use 'text'")
        data = json.loads(json.dumps(data))  # exactly what a reader will get back
    elif encoder == "text":
        data = value if isinstance(value, str) else str(value)
    else:
        raise ValueError(f"glue({name!r}): unknown encoder {encoder!r} (use 'json' or 'text')")
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipython_display

    payload = {"name": name, "data": data, "encoder": encoder, "version": 1}
    ipython_display(  # type: ignore[no-untyped-call]
        {f"{GLUE_PREFIX}.{encoder}+json": payload},
        metadata={"scrapbook": {"name": name, "data": True, "display": False}},
        raw=True,
    )
    if display:
        shown, shown_metadata = format_display_data(value)  # type: ignore[no-untyped-call]
        shown_metadata["scrapbook"] = {"name": name, "data": False, "display": True}
        ipython_display(shown, metadata=shown_metadata, raw=True)  # type: ignore[no-untyped-call]


def read_scraps(path: str | Path) -> dict[str, Any]:
    """Every scrap in an executed notebook, name → data, read as JSON (no kernel needed).

    Reads scrapbook scraps and papermill's legacy ``record`` outputs; when a name is glued
    more than once, the last one wins, as in scrapbook.
    """
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotebookFormatError(str(path), f"not JSON ({error})") from None
    scraps: dict[str, Any] = {}
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    for cell in cells if isinstance(cells, list) else []:
        outputs = cell.get("outputs", []) if isinstance(cell, dict) else []
        for output in outputs if isinstance(outputs, list) else []:
            data = output.get("data") if isinstance(output, dict) else None
            for mimetype, payload in data.items() if isinstance(data, dict) else ():
                scrap = _scrap(mimetype, payload)
                if scrap is not None:
                    scraps[scrap[0]] = scrap[1]
    return scraps


def _scrap(mimetype: str, payload: Any) -> tuple[str, Any] | None:
    if not isinstance(payload, dict) or not payload:
        return None
    if mimetype.startswith(RECORD_PREFIX):
        name, data = next(iter(payload.items()))
        encoder = mimetype[len(RECORD_PREFIX) + 1 :]
    elif mimetype.startswith(GLUE_PREFIX) and isinstance(payload.get("name"), str):
        name, data, encoder = payload["name"], payload.get("data"), str(payload.get("encoder"))
    else:
        return None
    if encoder == "json" and isinstance(data, str):
        with contextlib.suppress(ValueError):  # scrapbook too keeps a string that is not JSON
            data = json.loads(data)
    elif encoder == "text" and not isinstance(data, str):
        data = str(data)
    return name, data


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def annotate(
    text: str,
    *,
    tags: Sequence[str] = (),
    dashboard_uid: str | None = None,
    panel_id: int | None = None,
    time_ms: int | None = None,
    time_end_ms: int | None = None,
    url: str | None = None,
    token: str | None = None,
) -> int:
    """Add a Grafana annotation (``POST /api/annotations``) and return its id.

    ``url`` defaults to ``GRAFANA_URL``, ``token`` to the secret ``GRAFANA_TOKEN``. The request
    goes through the egress policy (allow an internal Grafana in ``[egress] allow_private``).
    A non-2xx answer raises RuntimeError with the status; the token is never shown.
    """
    base = url or os.environ.get("GRAFANA_URL", "")
    if not base.strip():
        raise ConfigError("GRAFANA_URL", "no Grafana URL: pass url= or set GRAFANA_URL")
    key = token if token is not None else find_secret("GRAFANA_TOKEN")
    if not key:
        raise ConfigError("GRAFANA_TOKEN", "no Grafana token: pass token= or set the secret")
    if re.search(r"[\x00-\x1f\x7f]", key):
        raise ConfigError("GRAFANA_TOKEN", "the token contains control characters")
    optional = zip(
        ("dashboardUID", "panelId", "time", "timeEnd"),
        (dashboard_uid, panel_id, time_ms, time_end_ms),
        strict=True,
    )
    body = {"text": text, "tags": list(tags), **{k: v for k, v in optional if v is not None}}
    endpoint = base.strip().rstrip("/") + "/api/annotations"
    policy = policy_from_config(os.environ, config_root(os.environ))
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    status, raw = policy.request("POST", endpoint, json_body=body, headers=headers)
    where = redact_url(endpoint)
    if not 200 <= status < 300:
        detail = raw[:300].decode("utf-8", errors="replace").replace(key, "***").strip()
        raise RuntimeError(f"Grafana annotation refused: {where} answered HTTP {status}: {detail}")
    try:
        answer = json.loads(raw)
        return int(answer["id"])
    except (ValueError, TypeError, KeyError):
        raise RuntimeError(f"{where} answered HTTP {status} without an annotation id") from None


def secret(reference: str) -> str:
    """The value of a secret: ``env:VAR``, ``file:PATH``, ``secret:NAME`` or a bare ``NAME``.

    Inside a kernel it also publishes the reference (never the value) as an output of type
    ``application/vnd.runbook.secret+json``, so the engine masks the value wherever it shows.
    """
    if ":" not in reference:
        reference = f"secret:{reference}"
    value = resolve_reference(reference)
    if _ipython() is not None:
        from IPython.display import publish_display_data

        publish = publish_display_data  # untyped in IPython
        publish({SECRET_MIMETYPE: {"reference": reference}}, metadata={})  # type: ignore[no-untyped-call]
    return value


def _ipython() -> Any:
    """The running IPython shell, or None; never imports IPython when it is not loaded."""
    module = sys.modules.get("IPython")
    return None if module is None else module.get_ipython()
