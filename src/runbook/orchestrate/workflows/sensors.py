"""Date sources for the available-dates sensor: each returns the set of available dates.

- ``flowapi_available_dates``: FlowAPI's ``/api/0/available_dates`` (bearer token);
- ``http_json_dates``: any JSON endpoint answering a list of ISO dates;
- ``glob_dates``: dates in the names of files matching a glob;
- ``command_dates``: a command printing one ISO date per line;
- ``sql_dates``: the first column of a read-only SELECT on PostgreSQL or SQLite.

Every invalid date string raises ConfigError naming the source and the bad value. Tokens
never appear in messages; URLs are shown without userinfo, query string or fragment (database
URLs keep the user name and show the password as ``***``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Never

from sqlalchemy import URL, Connection, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, DataSourceError, redact_url

_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\uffff]")
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for statement_timeout


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
        raise DataSourceError(where, "FlowAPI answer has no 'available_dates' mapping")
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
            raise DataSourceError(where, f"JSON answer has no field {field!r}")
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
        raise DataSourceError(where, "program not found") from None
    except OSError as error:
        raise DataSourceError(where, f"cannot run: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        raise DataSourceError(where, f"timed out after {timeout:g} s") from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "")
        raise DataSourceError(where, f"exited with status {done.returncode}: {first.strip()}")
    return _dates([line.strip() for line in done.stdout.splitlines() if line.strip()], where)


def sql_dates(url: str, query: str, *, timeout: float = 60) -> set[dt.date]:
    """Dates in the first column of ``query``, run read-only on the database at ``url``.

    ``url`` is a SQLAlchemy URL of a PostgreSQL or SQLite database; other backends are
    refused, because only these two are made read-only here. ``query`` must be one SELECT or
    WITH statement (comments and trailing ``;`` allowed); anything else raises
    ConfigError before connecting. The statement runs, comments removed, on one connection
    that is closed afterwards, inside a transaction that is rolled back:

    - PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout``, so even
      a data-modifying CTE or a function that writes fails. It does not stop functions with
      effects outside the transaction (``dblink``, ``pg_terminate_backend``): give the
      sensor a role that may only SELECT. ``timeout`` also bounds the connection attempt.
    - SQLite: the file is opened with ``mode=ro`` (a missing file is an error, never
      created) and ``PRAGMA query_only`` is set. ``timeout`` is the busy timeout for a locked
      database, and a progress handler interrupts a query still running after ``timeout``
      seconds, so the total wait is at most about twice ``timeout``.

    Values may be dates, datetimes (their date as stored, without time-zone conversion) or
    ISO date strings (``YYYY-MM-DD``); NULLs are ignored; anything else raises ConfigError.
    Connection and SQL errors raise ConfigError with the driver's first line; the password
    never appears in a message.
    """
    if not timeout > 0:
        raise ConfigError("sql", f"timeout must be a positive number of seconds, got {timeout!r}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError("sql", f"{redact_url(url)}: not a valid database URL") from None
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    secrets = [parsed.password or "", *parsed.normalized_query.get("password", ())]
    secrets = [secret for secret in secrets if secret]
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise ConfigError(
            "sql", f"{shown}: only PostgreSQL and SQLite databases are supported (read-only)"
        )
    statement = single_select(query, backend)
    try:
        engine = create_engine(
            _read_only_url(parsed), poolclass=NullPool, **_connect(parsed, timeout)
        )
    except ImportError as error:
        raise ConfigError("sql", f"{shown}: the driver is not installed ({error.name})") from None
    except ArgumentError:
        # Its message may quote the URL, password included.
        raise ConfigError("sql", f"{shown}: unknown driver or invalid URL options") from None
    except SQLAlchemyError as error:
        raise ConfigError("sql", f"{shown}: {_first_line(error, secrets)}") from None
    try:
        try:
            connection = engine.connect()
        except DBAPIError as error:
            raise DataSourceError(
                "sql", f"{shown}: cannot connect: {_first_line(error, secrets)}"
            ) from None
        with connection:
            values = _run(connection, statement, timeout, shown, secrets)
    finally:
        engine.dispose()
    dates: set[dt.date] = set()
    for value in values:
        if isinstance(value, dt.datetime):
            dates.add(value.date())
        elif isinstance(value, dt.date):
            dates.add(value)
        elif value is not None:
            dates.add(_date(value, "sql"))
    return dates


def single_select(query: str, dialect: str) -> str:
    """``query`` without comments and trailing ``;`` if it is one SELECT or WITH statement.

    ``dialect`` is ``postgresql`` or ``sqlite``: it decides which quotes exist (dollar quotes
    and ``E'...'`` escapes in PostgreSQL, ``[name]`` and backticks in SQLite). Whatever the
    server might read differently is refused rather than guessed: nested comments, and a
    backslash before a quote inside a plain string literal. Raises ConfigError("sql", …).
    """
    kept: list[str] = []
    ended = False  # past the statement's ';': only blanks, comments and ';' may follow
    i, end = 0, len(query)
    while i < end:
        char, pair = query[i], query[i : i + 2]
        if pair == "--":
            stop = query.find("\n", i)
            i = end if stop < 0 else stop
            kept.append(" ")
        elif pair == "/*":
            stop = query.find("*/", i + 2)
            if stop < 0:
                _refuse("a comment is not closed")
            if "/*" in query[i + 2 : stop]:
                _refuse("nested comments are ambiguous")
            i = stop + 2
            kept.append(" ")
        elif char == ";" or char.isspace():
            ended = ended or char == ";"
            kept.append(" " if ended else char)
            i += 1
        elif ended:
            _refuse("only one statement may run")
        elif char in "'\"`[" or (char == "$" and dialect == "postgresql"):
            stop = _quoted_end(query, i, dialect)
            kept.append(query[i:stop])
            i = stop
        else:
            kept.append(char)
            i += 1
    statement = "".join(kept).strip()
    first = re.match(r"[\s(]*([A-Za-z]+)", statement)
    if first is None or first.group(1).upper() not in ("SELECT", "WITH"):
        _refuse("only a SELECT or WITH statement may run")
    return statement


def _quoted_end(query: str, start: int, dialect: str) -> int:
    """The index just past the quoted token opening at ``start`` (or ``start + 1``)."""
    char = query[start]
    previous = query[start - 1] if start else " "
    before = query[start - 2] if start > 1 else " "
    if char == "$":
        tag = _DOLLAR_TAG.match(query, start)
        if tag is None or _WORD_CHAR.match(previous):
            return start + 1  # a parameter ($1) or part of a name, not a quote
        stop = query.find(tag.group(0), tag.end())
        if stop < 0:
            _refuse("a dollar-quoted string is not closed")
        return stop + len(tag.group(0))
    if char in "`[" and dialect != "sqlite":
        return start + 1
    close = "]" if char == "[" else char
    escapes = (
        char == "'"
        and dialect == "postgresql"
        and previous in "eE"
        and not _WORD_CHAR.match(before)
    )
    i = start + 1
    while i < len(query):
        if escapes and query[i] == "\\":
            i += 2
        elif query[i] == close:
            if close != "]" and query[i + 1 : i + 2] == close:
                i += 2  # a doubled quote stands for itself
            else:
                return i + 1
        elif char == "'" and dialect == "postgresql" and query[i : i + 2] == "\\'":
            # With standard_conforming_strings off PostgreSQL reads \' as a quote, and a
            # misread quote could hide a second statement.
            _refuse("a backslash before a quote in a string is ambiguous; double the quote")
        else:
            i += 1
    _refuse("a quoted string or name is not closed")


def _refuse(reason: str) -> Never:
    raise ConfigError("sql", f"refusing the query: {reason}")


def _read_only_url(url: URL) -> URL:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return url
    if url.query.get("uri") == "true" and str(url.database).startswith("file:"):
        return url.update_query_dict({"mode": "ro"})
    location = Path(str(url.database)).absolute().as_uri()
    return url.set(database=location).update_query_dict({"mode": "ro", "uri": "true"})


def _connect(url: URL, timeout: float) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": timeout}}
    if "connect_timeout" in url.query or url.get_driver_name() not in ("psycopg", "psycopg2"):
        return {}
    # libpq rounds anything below 2 seconds up to 2.
    return {"connect_args": {"connect_timeout": max(2, math.ceil(timeout))}}


def _run(
    connection: Connection, statement: str, timeout: float, shown: str, secrets: list[str]
) -> list[Any]:
    backend = connection.dialect.name
    raw = connection.connection.driver_connection
    deadline = time.monotonic() + timeout
    try:
        if backend == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            milliseconds = max(1, math.ceil(timeout * 1000))
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        else:
            connection.exec_driver_sql("PRAGMA query_only = ON")
            if isinstance(raw, sqlite3.Connection):
                raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        if connection.dialect.driver == "psycopg" and raw is not None:
            # A prepared statement holds exactly one command, so the server itself refuses
            # a second one (say a COMMIT ending the read-only transaction) that the lexical
            # check missed.
            with raw.cursor() as cursor:
                cursor.execute(statement, prepare=True)
                return [row[0] for row in cursor.fetchall()]
        if connection.dialect.paramstyle in ("format", "pyformat"):
            statement = statement.replace("%", "%%")  # the driver reads % as a placeholder
        return list(connection.exec_driver_sql(statement).scalars())
    except (DBAPIError, connection.dialect.loaded_dbapi.Error) as error:
        cause = getattr(error, "orig", error)
        canceled = getattr(cause, "sqlstate", None) == _QUERY_CANCELED or (
            backend == "sqlite" and "interrupted" in str(cause)
        )
        if canceled:
            raise DataSourceError(
                "sql", f"{shown}: the query timed out after {timeout:g} s"
            ) from None
        reason = _first_line(error, secrets)
        raise DataSourceError("sql", f"{shown}: the query failed: {reason}") from None


def _first_line(error: Exception, secrets: list[str]) -> str:
    text = str(getattr(error, "orig", None) or error)
    line = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    for secret in secrets:
        line = line.replace(secret, "***")
    return line


def _get_json(url: str, policy: EgressPolicy, headers: dict[str, str], who: str) -> Any:
    where = redact_url(url)
    status, body = policy.request("GET", url, headers=headers)
    if status != 200:
        raise DataSourceError(where, f"{who} answered {status}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise DataSourceError(where, f"{who} did not answer valid JSON") from None


def _dates(values: object, where: str) -> set[dt.date]:
    if not isinstance(values, list | tuple):
        raise DataSourceError(where, f"expected a list of ISO dates, got {type(values).__name__}")
    return {_date(value, where) for value in values}


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise DataSourceError(where, f"invalid date {str(value)[:40]!r}")
