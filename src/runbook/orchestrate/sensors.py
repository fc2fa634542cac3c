"""Date sources for the available-dates sensor: each returns the set of available dates.

- ``flowapi_available_dates``: FlowAPI's ``/api/0/available_dates`` (bearer token);
- ``http_json_dates``: any JSON endpoint answering a list of ISO dates;
- ``glob_dates``: dates in the names of files matching a glob;
- ``command_dates``: a command printing one ISO date per line.

Every invalid date string raises ConfigError naming the source and the bad value. Tokens
never appear in messages; URLs are shown without userinfo, query string or fragment.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, redact_url

_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def flowapi_available_dates(
    url: str, token: str, cdr_types: Sequence[str] | None, policy: EgressPolicy
) -> set[dt.date]:
    """Dates FlowAPI at ``url`` reports available for ALL of the selected CDR types.

    GETs ``{url}/api/0/available_dates`` with ``Authorization: Bearer <token>`` through
    ``policy``. FlowAPI answers ``{"available_dates": {"calls": [...], "sms": [...]}}``.
    With ``cdr_types`` only those types count (all reported types otherwise), and the result
    is their intersection: a date is available only once every selected type has data for
    it, so a workflow never runs on partial data. A selected type FlowAPI does not report
    contributes no dates (so the result is empty). A status other than 200 raises
    ConfigError; EgressError propagates from the policy. The token is never shown.
    """
    endpoint = f"{url.rstrip('/')}/api/0/available_dates"
    where = redact_url(endpoint)
    body = _get_json(endpoint, policy, {"Authorization": f"Bearer {token}"}, "FlowAPI")
    by_type = body.get("available_dates") if isinstance(body, dict) else None
    if not isinstance(by_type, dict):
        raise ConfigError(where, "FlowAPI answer has no 'available_dates' mapping")
    selected = list(cdr_types) if cdr_types is not None else sorted(by_type)
    result: set[dt.date] | None = None
    for cdr_type in selected:
        dates = _dates(by_type.get(cdr_type, []), f"{where} ({cdr_type})")
        result = dates if result is None else result & dates
    return result or set()


def http_json_dates(url: str, policy: EgressPolicy, *, field: str | None = None) -> set[dt.date]:
    """Dates from a JSON list of ISO dates at ``url`` (or the list under ``field``)."""
    where = redact_url(url)
    body = _get_json(url, policy, {}, "the server")
    if field is not None:
        if not isinstance(body, dict) or field not in body:
            raise ConfigError(where, f"JSON answer has no field {field!r}")
        body = body[field]
    return _dates(body, where)


def glob_dates(
    folder: Path, pattern: str, date_regex: str = r"(\d{4}-\d{2}-\d{2})"
) -> set[dt.date]:
    """Dates found by ``date_regex`` (its first group, or whole match) in matching file names.

    ``pattern`` is a glob relative to ``folder``; absolute patterns and ``..`` are refused.
    Names without a match are ignored; a match that is not a valid date raises ConfigError.
    """
    where = f"{folder}/{pattern}"
    if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
        raise ConfigError(where, "the glob must be relative to its folder, without '..'")
    try:
        regex = re.compile(date_regex)
    except re.error as error:
        raise ConfigError(where, f"invalid date regex {date_regex!r}: {error}") from None
    found: list[str] = []
    for path in sorted(folder.glob(pattern)):
        match = regex.search(path.name)
        if match is not None:
            found.append(match.group(1) if regex.groups else match.group(0))
    return _dates(found, where)


def command_dates(argv: Sequence[str], timeout: float = 60) -> set[dt.date]:
    """Dates printed by the command ``argv`` (no shell), one ISO date per non-blank line.

    A non-zero exit raises ConfigError with the first line of stderr; so does a missing
    program or a timeout.
    """
    if not argv:
        raise ConfigError("command", "no command given")
    where = f"command {argv[0]}"
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ConfigError(where, "program not found") from None
    except OSError as error:
        raise ConfigError(where, f"cannot run: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(where, f"timed out after {timeout:g} s") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "")
        raise ConfigError(where, f"exited with status {done.returncode}: {first.strip()}")
    return _dates([line.strip() for line in done.stdout.splitlines() if line.strip()], where)


def _get_json(url: str, policy: EgressPolicy, headers: dict[str, str], who: str) -> Any:
    where = redact_url(url)
    status, body = policy.request("GET", url, headers=headers)
    if status != 200:
        raise ConfigError(where, f"{who} answered {status}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ConfigError(where, f"{who} did not answer valid JSON") from None


def _dates(values: object, where: str) -> set[dt.date]:
    if not isinstance(values, list | tuple):
        raise ConfigError(where, f"expected a list of ISO dates, got {type(values).__name__}")
    return {_date(value, where) for value in values}


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(where, f"invalid date {str(value)[:40]!r}")
