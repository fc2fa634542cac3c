"""Date sources for the available-dates sensor."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, DataSourceError, EgressError
from runbook.orchestrate.workflows import sensors
from runbook.orchestrate.workflows.sensors import (
    command_dates,
    flowapi_available_dates,
    glob_dates,
    http_json_dates,
    single_select,
    sql_dates,
)
from tests.localhttp import JsonHandler, serving

TOKEN = "s3cret-token-value"
POLICY = EgressPolicy(allow_private=("127.0.0.1",), timeout=5)
AVAILABLE: dict[str, list[str]] = {
    "calls": ["2016-01-01", "2016-01-02", "2016-01-03"],
    "sms": ["2016-01-02", "2016-01-03", "2016-01-04"],
    "mds": ["2016-01-03"],
}


def d(day: int) -> dt.date:
    """2016-01-<day>."""
    return dt.date(2016, 1, day)


class _Handler(JsonHandler):
    routes: ClassVar[dict[str, Any]] = {
        "/list": ["2016-01-01", "2016-01-05"],
        "/object": {"dates": ["2016-01-07"], "other": 1},
        "/bad": ["2016-02-30"],
        "/notjson": b"<html>",
    }

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/api/0/available_dates":
            if self.bearer() != TOKEN:
                return 401, {"msg": f"bad token {self.headers.get('Authorization')}"}
            return 200, {"available_dates": AVAILABLE}
        if path in self.routes:
            return 200, self.routes[path]
        return super().answer(path)


@pytest.fixture
def base_url() -> Iterator[str]:
    """A FlowAPI-like server on 127.0.0.1, shut down and closed afterwards."""
    with serving(_Handler) as url:
        yield url


def test_flowapi_intersects_selected_types(base_url: str) -> None:
    assert flowapi_available_dates(base_url, TOKEN, ["calls"], POLICY) == {d(1), d(2), d(3)}
    assert flowapi_available_dates(base_url + "/", TOKEN, ["calls", "sms"], POLICY) == {
        d(2),
        d(3),
    }
    assert flowapi_available_dates(base_url, TOKEN, None, POLICY) == {d(3)}
    assert flowapi_available_dates(base_url, TOKEN, ["topups"], POLICY) == set()
    assert flowapi_available_dates(base_url, TOKEN, [], POLICY) == set()


def test_flowapi_wrong_token_never_shows_it(base_url: str) -> None:
    with pytest.raises(DataSourceError, match="FlowAPI answered 401") as caught:
        flowapi_available_dates(base_url, "wrong-token-value", None, POLICY)
    assert "wrong-token-value" not in str(caught.value)
    assert "available_dates" in caught.value.where


def test_flowapi_refused_by_default_policy(base_url: str) -> None:
    with pytest.raises(EgressError) as caught:
        flowapi_available_dates(base_url, TOKEN, None, EgressPolicy())
    assert TOKEN not in str(caught.value)


def test_http_json_dates(base_url: str) -> None:
    assert http_json_dates(f"{base_url}/list", POLICY) == {d(1), d(5)}
    assert http_json_dates(f"{base_url}/object", POLICY, field="dates") == {d(7)}
    with pytest.raises(DataSourceError, match="no field 'missing'"):
        http_json_dates(f"{base_url}/object", POLICY, field="missing")
    with pytest.raises(DataSourceError, match="expected a list"):
        http_json_dates(f"{base_url}/object", POLICY)
    with pytest.raises(DataSourceError, match=r"/bad: invalid date '2016-02-30'"):
        http_json_dates(f"{base_url}/bad?key=x", POLICY)
    with pytest.raises(DataSourceError, match="valid JSON"):
        http_json_dates(f"{base_url}/notjson", POLICY)
    with pytest.raises(DataSourceError, match="answered 404"):
        http_json_dates(f"{base_url}/nowhere", POLICY)


def test_glob_dates(tmp_path: Path) -> None:
    for name in ("calls_2016-01-01.csv", "calls_2016-01-03.csv", "readme.csv", "x_2016-01-09.txt"):
        (tmp_path / name).write_text("")
    assert glob_dates(tmp_path, "*.csv") == {d(1), d(3)}
    assert glob_dates(tmp_path, "*.txt", r"\d{4}-\d{2}-\d{2}") == {d(9)}
    (tmp_path / "calls_2016-13-01.csv").write_text("")
    with pytest.raises(DataSourceError, match="invalid date '2016-13-01'"):
        glob_dates(tmp_path, "*.csv")


@pytest.mark.parametrize("pattern", ["../*.csv", "/etc/*", "a/../../b"])
def test_glob_refuses_escapes(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError, match="relative"):
        glob_dates(tmp_path, pattern)


def test_glob_invalid_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid date regex"):
        glob_dates(tmp_path, "*", "(")


def test_command_dates() -> None:
    assert command_dates([sys.executable, "-c", "print('2016-01-01')"]) == {d(1)}
    script = "print('2016-01-02'); print(); print('  2016-01-03  ')"
    assert command_dates([sys.executable, "-c", script]) == {d(2), d(3)}


def test_command_failures() -> None:
    fail = "import sys; sys.stderr.write('no data here\\nmore\\n'); sys.exit(3)"
    with pytest.raises(DataSourceError, match=r"status 3: no data here$"):
        command_dates([sys.executable, "-c", fail])
    with pytest.raises(DataSourceError, match="invalid date 'yesterday'"):
        command_dates([sys.executable, "-c", "print('yesterday')"])
    with pytest.raises(DataSourceError, match="timed out"):
        command_dates([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    with pytest.raises(DataSourceError, match="not found"):
        command_dates(["/nonexistent/program-xyz"])
    with pytest.raises(ConfigError, match="no command"):
        command_dates([])


# --- sql_dates ----------------------------------------------------------------------------

# The SQL below names tables the fixtures create with random names: nothing is injected.
# ruff: noqa: S608

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "pw-Secr3t-value"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file with a ``days`` table: a DATE column, a text column and a NULL row."""
    path = tmp_path / "dates.db"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE days (day DATE, label TEXT)")
        connection.executemany(
            "INSERT INTO days VALUES (?, ?)",
            [("2016-01-01", "2016-01-05"), ("2016-01-02", "2016-01-06"), (None, None)],
        )
    return f"sqlite:///{path}"


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A uniquely named PostgreSQL table like ``days`` (plus a timestamp), dropped after."""
    name = f"sensor_days_{secrets.token_hex(6)}"
    engine = create_engine(PG_URL, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {name} (day DATE, label TEXT, seen TIMESTAMPTZ)")
        connection.exec_driver_sql(
            f"INSERT INTO {name} VALUES "
            "('2016-01-01', '2016-01-05', '2016-01-07 23:30+00'), "
            "('2016-01-02', '2016-01-06', NULL), (NULL, NULL, NULL)"
        )
    try:
        yield name
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}_purge()")
        engine.dispose()


def pg_count(table: str) -> int:
    """The number of rows of ``table``."""
    engine = create_engine(PG_URL, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    finally:
        engine.dispose()


def sqlite_count(url: str) -> int:
    """The number of rows of the ``days`` table of the SQLite database at ``url``."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        return int(connection.execute("SELECT count(*) FROM days").fetchone()[0])


def test_sql_dates_sqlite(sqlite_url: str) -> None:
    assert sql_dates(sqlite_url, "SELECT day FROM days") == {d(1), d(2)}  # NULL ignored
    assert sql_dates(sqlite_url, "select label, day from days -- the first column\n;") == {
        d(5),
        d(6),
    }
    assert sql_dates(sqlite_url, "SELECT '2016-01-09' WHERE 'a;b--c' LIKE 'a%'") == {d(9)}
    assert sql_dates(sqlite_url, "SELECT day FROM days WHERE 0") == set()


@pytest.mark.postgres
def test_sql_dates_postgres(pg_table: str) -> None:
    assert sql_dates(PG_URL, f"SELECT day FROM {pg_table}") == {d(1), d(2)}
    assert sql_dates(PG_URL, f"SELECT label FROM {pg_table} WHERE label LIKE '2016-%'") == {
        d(5),
        d(6),
    }
    # A timestamp gives its date as stored, a string literal in dollar quotes is a string.
    assert sql_dates(
        PG_URL, f"/* c */ WITH s AS (SELECT seen FROM {pg_table}) SELECT * FROM s"
    ) == {d(7)}
    assert sql_dates(PG_URL, "SELECT $x$2016-01-08$x$;") == {d(8)}


def test_sql_dates_invalid_date_sqlite(sqlite_url: str) -> None:
    with pytest.raises(DataSourceError, match=r"^sql: invalid date '2016-02-30'$"):
        sql_dates(sqlite_url, "SELECT '2016-02-30'")
    with pytest.raises(DataSourceError, match="invalid date '42'"):
        sql_dates(sqlite_url, "SELECT 42")


@pytest.mark.postgres
def test_sql_dates_invalid_date_postgres(pg_table: str) -> None:
    with pytest.raises(DataSourceError, match="invalid date 'yesterday'"):
        sql_dates(PG_URL, f"SELECT 'yesterday' FROM {pg_table}")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM days", "only a SELECT or WITH statement"),
        ("SELECT 1; DROP TABLE days", "only one statement"),
        ("SELECT 1;\n-- done\nDROP TABLE days", "only one statement"),
        ("SELECT 1 /* x */; /* y */ DELETE FROM days", "only one statement"),
        ("-- SELECT\nDELETE FROM days", "only a SELECT or WITH statement"),
        ("PRAGMA query_only = OFF", "only a SELECT or WITH statement"),
        ("", "only a SELECT or WITH statement"),
        ("SELECT 'unclosed", "not closed"),
        ("SELECT 1 /* unclosed", "not closed"),
        ("SELECT 1 /* /* nested */ ; DROP TABLE days */", "nested comments"),
    ],
)
def test_sql_dates_refuses_anything_but_one_select(
    sqlite_url: str, query: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        sql_dates(sqlite_url, query)
    assert caught.value.where == "sql"
    assert sqlite_count(sqlite_url) == 3


@pytest.mark.parametrize(
    ("query", "dialect", "expected"),
    [
        ("SELECT ';' -- ; x\n;", "sqlite", "SELECT ';'"),
        ('SELECT "a;b" FROM t; ;', "postgresql", 'SELECT "a;b" FROM t'),
        ("SELECT [x;y], `z;` FROM t", "sqlite", "SELECT [x;y], `z;` FROM t"),
        ("SELECT $$;$$, $1, a$b", "postgresql", "SELECT $$;$$, $1, a$b"),
        ("SELECT E'\\';' AS x", "postgresql", "SELECT E'\\';' AS x"),
        ("SELECT 'it''s;'", "postgresql", "SELECT 'it''s;'"),
        ("  (SELECT 1) UNION (SELECT 2)", "sqlite", "(SELECT 1) UNION (SELECT 2)"),
        ("with x as (select 1) select * from x", "sqlite", "with x as (select 1) select * from x"),
    ],
)
def test_single_select_keeps_quoted_text(query: str, dialect: str, expected: str) -> None:
    assert single_select(query, dialect) == expected


@pytest.mark.parametrize(
    ("query", "dialect"),
    [
        # SQLite has no E'...' strings: its string ends at \', leaving the ';' outside.
        ("SELECT E'\\'; DROP TABLE t; --'", "sqlite"),
        # standard_conforming_strings=off would read \' as a quote and run DROP.
        ("SELECT '\\'' ; DROP TABLE t; --'", "postgresql"),
        ("SELECT $a$ ; $b$; DROP TABLE t", "postgresql"),
        ("SELECT [x; DROP TABLE t", "sqlite"),
    ],
)
def test_single_select_refuses_hidden_statements(query: str, dialect: str) -> None:
    with pytest.raises(ConfigError, match="refusing the query"):
        single_select(query, dialect)


@pytest.mark.postgres
def test_sql_dates_wrong_credentials_never_show_the_password() -> None:
    for url in (
        f"postgresql://no_such_role_x:{PASSWORD}@127.0.0.1:5432/test",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test",
        f"postgresql://postgres@127.0.0.1:5432/no_such_database_x?password={PASSWORD}",
    ):
        with pytest.raises(DataSourceError, match="cannot connect") as caught:
            sql_dates(url, "SELECT current_date")
        message = str(caught.value)
        assert PASSWORD not in message
        assert "\n" not in message
        assert message.startswith("sql: postgresql://")


@pytest.mark.postgres
def test_sql_dates_connection_error_names_the_problem() -> None:
    url = f"postgresql://no_such_role_x:{PASSWORD}@127.0.0.1:5432/test"
    with pytest.raises(DataSourceError) as caught:
        sql_dates(url, "SELECT current_date")
    message = str(caught.value)
    assert message.startswith("sql: postgresql://no_such_role_x:***@127.0.0.1:5432/test: ")
    assert 'role "no_such_role_x" does not exist' in message
    assert PASSWORD not in message


@pytest.mark.postgres
def test_sql_dates_postgres_read_only_transaction(
    pg_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A data-modifying CTE passes the lexical check; the read-only transaction stops it.
    with pytest.raises(DataSourceError, match="read-only transaction"):
        sql_dates(PG_URL, f"WITH d AS (DELETE FROM {pg_table} RETURNING day) SELECT day FROM d")
    # So does a function that writes, which no lexical check could see.
    engine = create_engine(PG_URL, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE FUNCTION {pg_table}_purge() RETURNS SETOF date LANGUAGE sql "
            f"AS $$ DELETE FROM {pg_table} RETURNING day $$"
        )
    engine.dispose()
    with pytest.raises(DataSourceError, match="read-only transaction"):
        sql_dates(PG_URL, f"SELECT {pg_table}_purge()")
    # Were the lexical check ever fooled, the server still runs one command only.
    monkeypatch.setattr(sensors, "single_select", lambda query, dialect: query)
    with pytest.raises(DataSourceError, match="multiple commands"):
        sql_dates(PG_URL, f"SELECT day FROM {pg_table}; COMMIT; DELETE FROM {pg_table}")
    assert pg_count(pg_table) == 3


def test_sql_dates_sqlite_is_read_only(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataSourceError, match="readonly database"):
        sql_dates(sqlite_url, "WITH d AS (SELECT 1) DELETE FROM days")
    with pytest.raises(DataSourceError, match="readonly database"):
        sql_dates(sqlite_url, "WITH d AS (SELECT 1) INSERT INTO days VALUES ('2016-01-03', '')")
    monkeypatch.setattr(sensors, "single_select", lambda query, dialect: query)
    with pytest.raises(DataSourceError, match="one statement at a time"):
        sql_dates(sqlite_url, "SELECT day FROM days; DELETE FROM days")
    assert sqlite_count(sqlite_url) == 3


def test_sql_dates_sqlite_never_creates_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(DataSourceError, match="cannot connect: unable to open database file"):
        sql_dates(f"sqlite:///{missing}", "SELECT '2016-01-01'")
    assert not missing.exists()


def test_sql_dates_sqlite_timeout(sqlite_url: str) -> None:
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"
    with pytest.raises(DataSourceError, match=r"timed out after 0.3 s$"):
        sql_dates(sqlite_url, endless, timeout=0.3)


@pytest.mark.postgres
def test_sql_dates_postgres_timeout() -> None:
    with pytest.raises(DataSourceError, match=r"timed out after 0.3 s$"):
        sql_dates(PG_URL, "SELECT current_date FROM pg_sleep(5)", timeout=0.3)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"mysql://user:{PASSWORD}@db/dates", r"^sql: mysql://user:\*\*\*@db/dates: only"),
        (f"postgresql://user:{PASSWORD}@db:port/x", "not a valid database URL"),
        ("not a url", "not a valid database URL"),
        (f"postgresql+nodriver://u:{PASSWORD}@db/x", "unknown driver"),
        (f"postgresql+psycopg2://u:{PASSWORD}@db/x", r"driver is not installed \(psycopg2\)"),
    ],
)
def test_sql_dates_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        sql_dates(url, "SELECT 1")
    assert PASSWORD not in str(caught.value)


def test_sql_dates_bad_timeout(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="timeout must be a positive"):
        sql_dates(sqlite_url, "SELECT '2016-01-01'", timeout=0)
