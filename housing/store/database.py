"""Engines for the prediction log: one SQLAlchemy code path for SQLite and PostgreSQL.

SQLite is tuned for several writer processes (service workers, the monitor): WAL lets readers
and one writer proceed together and ``busy_timeout`` makes a second writer wait instead of
failing with "database is locked". The schema is created on first use, so a fresh checkout or
an empty PostgreSQL database needs no migration step.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import JSON, Connection, Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.sql.dml import Insert

from housing.config import Settings, StorageConfig
from housing.store.tables import SCHEMA_VERSION, metadata, schema_info

logger = logging.getLogger(__name__)

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for in-memory or other databases)."""
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix):
            rest = url[len(prefix) :].split("?", 1)[0]
            return Path(rest) if rest and rest != ":memory:" else None
    return None


DURABLE_OPTION = "housing_durable"


def durable(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions are fsync'd on SQLite; see below."""
    return engine.execution_options(**{DURABLE_OPTION: True})


def create_log_engine(storage: StorageConfig) -> Engine:
    """An engine for ``storage.url`` with the pragmas/pool settings this workload needs.

    On SQLite a transaction through :func:`durable` of the engine is fsync'd on commit
    (``synchronous=FULL``), so an acknowledged write survives a power loss, not only a crash of
    the process; used for feedback. The prediction log keeps WAL's ``NORMAL`` (its rows are also
    safe against process crashes). One engine serves both, so a service worker opens one pool
    for its one database. PostgreSQL commits are durable either way.
    """
    if is_sqlite(storage.url):
        path = sqlite_path(storage.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        timeout_s = storage.sqlite_busy_timeout_ms / 1000
        engine = create_engine(storage.url, connect_args={"timeout": timeout_s})
        busy_timeout_ms = storage.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _synchronous(connection: Any) -> None:
            # Set per transaction, and only when it changes on this pooled connection.
            wanted = connection.get_execution_options().get(DURABLE_OPTION, False)
            level = "FULL" if wanted else "NORMAL"
            info = connection.connection.info
            if info.get("synchronous") != level:
                connection.exec_driver_sql(f"PRAGMA synchronous={level}")
                info["synchronous"] = level

        return engine
    # pre_ping replaces connections the server dropped (restart, failover) before they are used.
    return create_engine(
        storage.url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": max(1, int(storage.retry_interval_s))},
    )


def open_log(settings: Settings) -> Engine:
    """Engine on the configured log database (same tuning as the service), schema ensured."""
    engine = create_log_engine(settings.storage)
    ensure_schema(engine)
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create missing tables, add missing columns, record the schema version.

    Safe to call from many processes: two workers starting together may both try to create a
    table or a column; the loser sees the winner's on the retry, so the race costs one extra
    round trip instead of a failed start. Columns are only ever added (a log written by an
    older version keeps its rows; new columns are NULL there), never changed or dropped.
    """
    for attempt in range(2):
        try:
            metadata.create_all(engine, checkfirst=True)
            _add_missing_columns(engine)
            break
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 1:
                raise
    with engine.begin() as connection:
        connection.execute(
            insert_ignoring_conflicts(engine, schema_info).values(id=1, version=SCHEMA_VERSION)
        )


def _add_missing_columns(engine: Engine) -> None:
    existing_tables = set(inspect(engine).get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {column["name"] for column in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable and column.server_default is None:
                raise ValueError(
                    f"cannot add required column {table.name}.{column.name} to an existing "
                    "log: give it a server default or make it nullable"
                )
            definition = f'"{column.name}" {column.type.compile(dialect=engine.dialect)}'
            if column.server_default is not None:
                default = str(getattr(column.server_default, "arg", "")).replace("'", "''")
                definition += f" DEFAULT '{default}'"
                if not column.nullable:
                    definition += " NOT NULL"
            with engine.begin() as connection:
                connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {definition}")


def insert_ignoring_conflicts(engine: Engine, table: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the engine's dialect (SQLite or PostgreSQL).

    Used where two processes may write the same primary key at once (feedback for one
    prediction, a replayed spool file): the database, not the application, decides who wins.
    """
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"unsupported database dialect '{engine.dialect.name}' (SQLite or PostgreSQL)")


class BulkInsert:
    """``INSERT ... ON CONFLICT DO NOTHING`` of many rows through the driver's ``executemany``.

    The statement is compiled once per engine by SQLAlchemy (so the SQL, the placeholders and
    PostgreSQL's ``::JSON`` casts are the dialect's own) and each row is bound with the
    columns' own bind processors, except JSON, which msgspec encodes. SQLAlchemy's per-row
    parameter processing cost 45 us a row for the prediction log, the driver's executemany
    with these values 16 us (1,000 rows, SQLite, same machine and run): the insert was about
    a third of a worker's CPU at 100 records per request (docs/benchmarks.md).
    """

    def __init__(self, engine: Engine, table: Any) -> None:
        dialect = engine.dialect
        compiled = insert_ignoring_conflicts(engine, table).compile(dialect=dialect)
        self.sql = compiled.string
        names = [column.name for column in table.columns]
        self._positional = dialect.positional
        self._order = list(compiled.positiontup or names) if dialect.positional else names
        self._defaults = {
            column.name: column.default.arg
            for column in table.columns
            if column.default is not None and column.default.is_scalar
        }
        json_encode = msgspec.json.Encoder().encode
        self._processors: dict[str, Any] = {}
        for column in table.columns:
            if isinstance(column.type, JSON):
                self._processors[column.name] = lambda value, e=json_encode: e(value).decode()
            else:
                processor = column.type._cached_bind_processor(dialect)
                if processor is not None:
                    self._processors[column.name] = processor

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        order, defaults, processors = self._order, self._defaults, self._processors
        bound = []
        for row in rows:
            values = {name: row.get(name, defaults.get(name)) for name in order}
            for name, processor in processors.items():
                values[name] = processor(values[name])
            bound.append(tuple(values[name] for name in order) if self._positional else values)
        return bound

    def __call__(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` in the connection's transaction (rows already present are kept)."""
        raw = connection.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        driver_error = connection.dialect.loaded_dbapi.Error
        try:
            cursor.executemany(self.sql, self.parameters(rows))
        except driver_error as exc:
            # What SQLAlchemy does for its own statements: the same exception classes for the
            # callers, and a dead connection (PostgreSQL restarted) is not returned to the pool.
            gone = connection.dialect.is_disconnect(exc, raw, cursor)
            if gone:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                self.sql, None, exc, driver_error, connection_invalidated=gone,
                dialect=connection.dialect,
            ) from exc  # fmt: skip
        finally:
            cursor.close()


def error_kind(error: BaseException) -> str:
    """A short, stable name for why a write failed (the label of the store-error metric)."""
    if isinstance(error, OSError):
        if error.errno in _FULL_ERRNOS:
            return "disk_full"
        if error.errno in _NOT_WRITABLE_ERRNOS:
            return "not_writable"
        return "io"
    text = str(error).lower()
    if "disk is full" in text or "no space" in text:
        return "disk_full"
    if "locked" in text:
        return "locked"
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "not_writable"
    if "no such table" in text or "does not exist" in text:
        return "schema"
    if isinstance(error, OperationalError):
        return "unreachable"
    return "other"


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class LogDatabase:
    """An engine for the log that follows the database at the configured path.

    A SQLite file that is removed or replaced while the service runs (moved away, restored
    from a backup) would otherwise keep receiving rows through the open connections while a
    new, table-less file appears at the path, and feedback would fail until a restart. Before
    each use, :meth:`ready` compares the file at the path with the one the engine opened; on a
    change it closes the engine's connections, reconnects to what is at the path and creates
    the schema there. PostgreSQL needs no watch: ``pool_pre_ping`` replaces dead connections.
    """

    def __init__(self, storage: StorageConfig) -> None:
        self.engine = create_log_engine(storage)
        self._path = sqlite_path(storage.url)
        self._identity: tuple[int, int] | None = None
        self._schema_ready = False
        self._lock = threading.Lock()

    def ready(self) -> Engine:
        """The engine, reconnected if the SQLite file changed, with the schema in place.

        Raises SQLAlchemyError (or OSError) when the database cannot be reached or set up.
        """
        with self._lock:
            path = self._path
            if path is not None and self._schema_ready and _file_identity(path) != self._identity:
                logger.warning(
                    "prediction log: %s was removed or replaced; reconnecting to the file "
                    "now at that path",
                    path,
                )
                self.engine.dispose()
                self._schema_ready = False
            if not self._schema_ready:
                ensure_schema(self.engine)
                self._schema_ready = True
                if self._path is not None:
                    self._identity = _file_identity(self._path)
        return self.engine

    def dispose(self) -> None:
        self.engine.dispose()
