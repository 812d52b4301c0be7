"""The prediction log writer: answered predictions reach the database in batches, never one by one.

Each service worker owns one writer. Rows are appended to an in-memory buffer on the request
path (a list append under a lock) and a background thread writes them in one transaction per
batch, when ``flush_max_rows`` rows are waiting or every ``flush_interval_s``.

Nothing is lost when the database is down: a batch that cannot be written goes to a JSON-lines
file in ``spool_dir`` and the thread replays spooled files (oldest first) once the database
answers again. Inserts ignore primary-key conflicts, so a replayed batch whose first commit did
in fact succeed, or a file two workers both picked up, cannot duplicate or fail. ``close()``
(called on SIGTERM via the service's shutdown hook) drains the buffer before the process exits.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from housing.config import StorageConfig
from housing.store.database import create_log_engine, ensure_schema, insert_ignoring_conflicts
from housing.store.tables import predictions

logger = logging.getLogger(__name__)

SPOOL_SUFFIX = ".jsonl"
_CLAIMED_SUFFIX = ".replaying"
_DATETIME_FIELDS = ("created_at",)


class LogObserver(Protocol):
    """Receives the writer's events; the service turns them into Prometheus metrics."""

    def batch_written(self, rows: int, seconds: float) -> None: ...

    def write_failed(self, error: BaseException) -> None: ...

    def backlog_changed(self, rows: int) -> None: ...


class _NoObserver:
    def batch_written(self, rows: int, seconds: float) -> None:
        pass

    def write_failed(self, error: BaseException) -> None:
        pass

    def backlog_changed(self, rows: int) -> None:
        pass


def _encode(row: dict[str, Any]) -> str:
    document = dict(row)
    for name in _DATETIME_FIELDS:
        value = document.get(name)
        if isinstance(value, datetime):
            document[name] = value.isoformat()
    return json.dumps(document, separators=(",", ":"))


def _decode(line: str) -> dict[str, Any]:
    row = json.loads(line)
    for name in _DATETIME_FIELDS:
        if isinstance(row.get(name), str):
            row[name] = datetime.fromisoformat(row[name])
    return row


class PredictionLogWriter:
    """Buffered batch writer of prediction rows with a local spool for database outages."""

    def __init__(
        self,
        storage: StorageConfig,
        *,
        engine: Engine | None = None,
        observer: LogObserver | None = None,
        name: str = "predictions",
    ) -> None:
        self._storage = storage
        self._engine = engine or create_log_engine(storage)
        self._observer: LogObserver = observer or _NoObserver()
        self._name = name
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self._spooled_rows = 0
        self._next_attempt = 0.0
        self._sequence = 0
        self.spool_dir = Path(storage.spool_dir)

    # ------------------------------------------------------------------ lifecycle

    @property
    def engine(self) -> Engine:
        return self._engine

    def start(self) -> PredictionLogWriter:
        """Start the background thread; tries to create the schema but never fails on it."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._spooled_rows = self._count_spooled_rows()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Write everything still buffered (to the spool if the database is down) and stop."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._drain(final=True)

    # ------------------------------------------------------------------ request path

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue rows for the next batch; cheap enough for the request path."""
        with self._lock:
            self._buffer.extend(rows)
            if len(self._buffer) >= self._storage.flush_max_rows:
                self._lock.notify_all()

    def flush(self) -> bool:
        """Write the buffer now (used before feedback looks a prediction up); True on success."""
        return self._drain(final=False)

    @property
    def backlog(self) -> int:
        """Rows answered but not yet in the database (buffered plus spooled)."""
        return len(self._buffer) + self._spooled_rows

    # ------------------------------------------------------------------ background thread

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stopping and len(self._buffer) < self._storage.flush_max_rows:
                    self._lock.wait(self._storage.flush_interval_s)
                if self._stopping:
                    return
            try:
                self._drain(final=False)
            except Exception as exc:  # the log thread must outlive any surprise
                logger.exception("prediction log writer: unexpected error")
                self._observer.write_failed(exc)

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            rows, self._buffer = self._buffer, []
        return rows

    def _drain(self, *, final: bool) -> bool:
        """Replay the spool, then write the buffer; spool the buffer if the database fails."""
        with self._write_lock:
            database_ok = True
            if final or time.monotonic() >= self._next_attempt:
                database_ok = self._replay_spool()
            else:
                database_ok = False
            while True:
                rows = self._take()
                if not rows:
                    break
                if database_ok and self._write(rows):
                    continue
                database_ok = False
                self._spool(rows)
            self._observer.backlog_changed(self.backlog)
            return database_ok

    def _write(self, rows: list[dict[str, Any]]) -> bool:
        started = time.perf_counter()
        try:
            if not self._schema_ready:
                ensure_schema(self._engine)
                self._schema_ready = True
            for offset in range(0, len(rows), self._storage.flush_max_rows):
                chunk = rows[offset : offset + self._storage.flush_max_rows]
                with self._engine.begin() as connection:
                    connection.execute(insert_ignoring_conflicts(self._engine, predictions), chunk)
        except (SQLAlchemyError, OSError) as exc:
            self._next_attempt = time.monotonic() + self._storage.retry_interval_s
            logger.warning("prediction log: database unavailable, spooling (%s)", exc)
            self._observer.write_failed(exc)
            return False
        self._observer.batch_written(len(rows), time.perf_counter() - started)
        return True

    # ------------------------------------------------------------------ spool

    def _spool(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to a new spool file; fsync'd, so a crash after this loses nothing."""
        self._sequence += 1
        stem = f"{self._name}-{time.time_ns():020d}-{os.getpid()}-{self._sequence}"
        partial = self.spool_dir / f"{stem}.partial"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as handle:
            handle.write("\n".join(_encode(row) for row in rows) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(self.spool_dir / f"{stem}{SPOOL_SUFFIX}")
        self._spooled_rows += len(rows)

    def _spool_files(self) -> list[Path]:
        return sorted(self.spool_dir.glob(f"{self._name}-*{SPOOL_SUFFIX}"))

    def _count_spooled_rows(self) -> int:
        total = 0
        for path in self._spool_files():
            with path.open(encoding="utf-8") as handle:
                total += sum(1 for line in handle if line.strip())
        return total

    def _replay_spool(self) -> bool:
        """Write spooled files oldest first; False (and keep the files) if the database fails.

        A file is claimed by renaming it, so two workers sharing the spool directory never
        replay the same file at the same time.
        """
        for path in self._spool_files():
            claimed = path.with_suffix(_CLAIMED_SUFFIX + f"-{os.getpid()}")
            try:
                path.rename(claimed)
            except FileNotFoundError:
                continue  # another worker claimed it
            with claimed.open(encoding="utf-8") as handle:
                rows = [_decode(line) for line in handle if line.strip()]
            if not self._write(rows):
                claimed.rename(path)
                return False
            claimed.unlink()
            self._spooled_rows = max(0, self._spooled_rows - len(rows))
        self._spooled_rows = self._count_spooled_rows()
        return True
