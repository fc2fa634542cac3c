"""Engines, sessions and schema management of the store.

SQLite (the default, a file under ``.runbook/``) and PostgreSQL (by URL, through psycopg 3)
are supported. The schema is owned by the Alembic migrations packaged next to this module;
:func:`ensure_schema` runs on every command and costs one query when the schema is current.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from runbook.credentials import libpq_parameters
from runbook.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported inside the functions that migrate: it costs about half as much again as
# SQLAlchemy to import, and a database already at head (every command but the first) never
# needs it.

HEAD_REVISION: str = "0019"
"""The newest migration this version of runbook knows (a test checks it against Alembic)."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_ALIASES = frozenset({"postgresql", "postgres"})
_POSTGRES_DRIVER = "postgresql+psycopg"
# Without a bound, connecting to a host that drops packets hangs for minutes on every command.
_POSTGRES_CONNECT_TIMEOUT = 10
# pg_advisory_xact_lock key serialising concurrent migrations ("rbk-migr" as 64-bit int).
_MIGRATION_LOCK_KEY = 0x72626B2D6D696772
# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two
# threads of one process migrating at once, even different databases, would mix them up.
_ALEMBIC_LOCK = threading.Lock()


def make_engine(url: str) -> Engine:
    """Create an engine for a ``sqlite:///PATH`` or ``postgresql://…`` URL.

    ``postgresql://`` and ``postgres://`` are rewritten to ``postgresql+psycopg://``. For
    SQLite the parent folder of the file is created, and every connection gets WAL, a 30 s
    busy timeout and foreign keys on. Raises :class:`StoreError` for a malformed or
    unsupported URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The text may hold a password and could not be parsed to mask it: do not echo it.
        raise StoreError(
            "invalid database URL (expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    if parsed.drivername in _SQLITE_DRIVERS:
        return _make_sqlite_engine(parsed)
    if parsed.drivername in _POSTGRES_ALIASES:
        parsed = parsed.set(drivername=_POSTGRES_DRIVER)
    if parsed.drivername == _POSTGRES_DRIVER:
        # libpq variables handed over at start (runbook.credentials), never in os.environ;
        # as with the variables, what the URL says wins.
        connect_args: dict[str, Any] = {
            k: v
            for k, v in libpq_parameters().items()
            if k not in parsed.query and not (k == "password" and parsed.password)
        }
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = _POSTGRES_CONNECT_TIMEOUT
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    raise StoreError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)}: "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def _make_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        parent = Path(database).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
    # The sqlite3 module's own transaction handling skips BEGIN before SELECT, DDL and
    # SAVEPOINT; turning it off and emitting BEGIN ourselves (below) gives real transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        _enable_wal(cursor)
        # In WAL mode NORMAL is still safe against a crashed or killed process (only a power
        # loss can drop the newest commits) and saves an fsync on every commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


_SQLITE_BUSY_MS = 30_000


def _enable_wal(cursor: Any) -> None:
    # WAL is a property of the file: once one connection set it, the rest find it set. The
    # switch itself needs the file to itself and can fail at once with "database is locked"
    # (the busy handler does not cover it) while another connection migrates a fresh file,
    # so it is retried for as long as the busy timeout would have waited.
    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
    # writes fails at once with "database is locked" when another process wrote in between,
    # without waiting on busy_timeout; waiting is what a CLI next to a scheduler needs.
    # A read-only session (read_only below) never writes, so it takes no lock: in WAL mode
    # its reads run beside each other and beside the one writer.
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_READ_ONLY = "runbook_read_only"


def read_only(engine: Engine) -> Engine:
    """``engine`` for sessions that only read (same pool): on SQLite their transactions
    take no write lock, so concurrent readers are not serialized. A write through it may
    fail at once with "database is locked" instead of waiting: never write through it."""
    return engine.execution_options(**{_READ_ONLY: True})


def writable(engine: Engine) -> Engine:
    """``engine`` for sessions that may write (undoes :func:`read_only`)."""
    if not engine.get_execution_options().get(_READ_ONLY):
        return engine
    return engine.execution_options(**{_READ_ONLY: False})


def is_read_only(session: Session) -> bool:
    """Whether ``session`` is bound to a :func:`read_only` engine."""
    bind = session.get_bind()
    return bool(bind.get_execution_options().get(_READ_ONLY))


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Database errors (connection failures included) leave as :class:`StoreError` with a
    one-line reason naming the URL with its password masked.
    """
    session = Session(engine)
    try:
        yield session
        session.commit()
    except DBAPIError as exc:
        _quiet_rollback(session)
        raise _store_error(engine, exc) from exc
    except BaseException:
        _quiet_rollback(session)
        raise
    finally:
        session.close()


def _quiet_rollback(session: Session) -> None:
    # A rollback on a dead connection fails too; the original error is the one to report.
    with contextlib.suppress(DBAPIError):
        session.rollback()


def describe_error(engine: Engine, exc: DBAPIError) -> StoreError:
    """A database error as a one-line StoreError naming the URL, its password masked."""
    return _store_error(engine, exc)


def _store_error(engine: Engine, exc: DBAPIError) -> StoreError:
    where = engine.url.render_as_string(hide_password=True)
    original = exc.orig if exc.orig is not None else exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    detail = lines[0] if lines else type(original).__name__
    password = engine.url.password
    if password:
        # Drivers rarely echo the password, but the message must never carry it.
        detail = detail.replace(str(password), "***")
    # SQLAlchemy wraps errors raised while connecting with no statement attached.
    if exc.statement is None or exc.connection_invalidated:
        verb = "open" if engine.dialect.name == "sqlite" else "connect to"
        return StoreError(f"cannot {verb} {where}: {detail}")
    return StoreError(f"database error on {where}: {detail}")


def alembic_config() -> Config:
    """The Alembic configuration of the packaged migrations (no alembic.ini involved).

    Migrations run only with a connection in ``config.attributes["connection"]``; use
    :func:`upgrade` and :func:`downgrade` rather than Alembic's commands directly.
    """
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolation would choke on a '%' in the install path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, or ``None`` for an unmigrated one.

    One query on the ``alembic_version`` table: this runs before every command.
    """
    try:
        with engine.connect() as connection:
            try:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                revisions = list(rows.scalars())
            except DBAPIError as exc:
                if _is_missing_table(exc):
                    return None
                raise
    except DBAPIError as exc:
        raise _store_error(engine, exc) from exc
    if not revisions:
        return None
    if len(revisions) > 1:
        raise StoreError(
            f"database records several schema revisions ({', '.join(sorted(revisions))}); "
            "it was migrated by something other than runbook"
        )
    return str(revisions[0])


def _is_missing_table(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL undefined_table
        return True
    return str(exc.orig).startswith("no such table")  # SQLite


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    from alembic import command

    _migrate(engine, lambda config: command.upgrade(config, revision), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"`` drops every table)."""
    from alembic import command

    _migrate(engine, lambda config: command.downgrade(config, revision), revision)


def _migrate(engine: Engine, action: Callable[[Config], None], revision: str) -> None:
    from alembic.util.exc import CommandError

    config = alembic_config()
    try:
        with _ALEMBIC_LOCK, engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations copy and drop tables; with foreign keys on, dropping a
                # parent table cascades into its children. The pragma is ignored inside a
                # transaction, so it is set on the driver connection before BEGIN.
                _sqlite_pragma(connection, "foreign_keys=OFF")
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        # Two commands starting at once on a fresh database would both try
                        # to create the tables; the second now waits, then finds head.
                        connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                    config.attributes["connection"] = connection
                    action(config)
                    if sqlite:
                        _check_sqlite_foreign_keys(connection)
            finally:
                if sqlite and not connection.invalidated:
                    _sqlite_pragma(connection, "foreign_keys=ON")
    except CommandError as exc:
        raise StoreError(f"cannot migrate to revision {revision!r}: {exc}") from exc
    except DBAPIError as exc:
        raise _store_error(engine, exc) from exc


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    driver_connection: Any = connection.connection.driver_connection
    driver_connection.execute(f"PRAGMA {pragma}")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        tables = sorted({str(row[0]) for row in violations})
        raise StoreError(
            f"migration left rows pointing at missing records in {', '.join(tables)}; rolled back"
        )


def ensure_schema(engine: Engine) -> None:
    """Bring a database to the schema this runbook needs, or explain why not.

    A fresh database is migrated to head; so is a SQLite one behind head. A PostgreSQL
    database behind head is left alone (it is shared: migrating it is an explicit act), and
    one ahead of head was written by a newer runbook. Both raise :class:`StoreError`.
    """
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    if revision is None:
        upgrade(engine)
        return
    from alembic.script import ScriptDirectory

    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if revision not in known:
        raise StoreError(
            f"database schema is at revision {revision}, which this runbook does not know "
            f"(it needs {HEAD_REVISION}): the database was written by a newer runbook; "
            "upgrade runbook"
        )
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise StoreError(
        f"database schema is at revision {revision} but this runbook needs {HEAD_REVISION}: "
        "run `runbook db upgrade`"
    )
