"""The prediction log writer: answered predictions reach the database in batches, never one by one.

Each service worker owns one writer. The model thread hands over each model batch's rows with
:meth:`PredictionLogWriter.append` before any answer of the batch is sent: the rows are
appended to the worker's write-ahead journal (:mod:`housing.store.journal`, one write per
batch) and queued in memory. A background thread moves them into the database with one
``executemany`` per batch, when ``flush_max_rows`` rows are waiting or every
``flush_interval_s``, and then deletes the journal segment they came from.

Nothing answered is lost:

* the database is down: the sealed segment stays on disk and is retried every
  ``retry_interval_s`` (with ``storage.journal`` off, the rows are written to a segment then);
* the worker (or the whole server) is killed: its segments are replayed at the next start-up
  or by another worker (rows are keyed by prediction id, so replays never duplicate);
* SIGTERM: ``close()`` (the service's shutdown hook) drains the queue first;
* the journal cannot be written (full disk): the batch goes straight to the database; when
  that fails too, ``storage.on_log_unavailable`` decides: ``refuse`` raises
  :class:`PredictionLogUnavailable` (the batch is answered 503, readiness turns false until the
  journal or a trial batch can store rows again), ``serve`` answers anyway and counts and
  reports every unlogged row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from housing.config import StorageConfig
from housing.store.database import BulkInsert, LogDatabase, error_kind
from housing.store.journal import Journal, Segment, decode_segment, encode_batch
from housing.store.tables import predictions, schema_info

logger = logging.getLogger(__name__)

# Error text kept in the 503 answer and the readiness log line (a database error can be long).
_REASON_CHARS = 200


class PredictionLogUnavailable(RuntimeError):  # noqa: N818 - an outcome (HTTP 503), not a bug
    """Neither the journal nor the database can take rows and the policy is ``refuse``."""


class LogObserver(Protocol):
    """Receives the writer's events; the service turns them into Prometheus metrics."""

    def batch_written(self, rows: int, seconds: float) -> None: ...

    def write_failed(self, target: str, kind: str) -> None: ...

    def backlog_changed(self, rows: int, lag_s: float) -> None: ...

    def rows_dropped(self, rows: int) -> None: ...


class _NoObserver:
    def batch_written(self, rows: int, seconds: float) -> None:
        pass

    def write_failed(self, target: str, kind: str) -> None:
        pass

    def backlog_changed(self, rows: int, lag_s: float) -> None:
        pass

    def rows_dropped(self, rows: int) -> None:
        pass


def _short(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else repr(error)
    return text[:_REASON_CHARS]


class PredictionLogWriter:
    """Journaled, batched writer of prediction rows (one per worker)."""

    def __init__(
        self,
        storage: StorageConfig,
        *,
        database: LogDatabase | None = None,
        observer: LogObserver | None = None,
        name: str = "predictions",
        table: Table = predictions,
    ) -> None:
        """``name`` names the journal files, ``table`` receives the rows (keyed by its primary
        key, so a replayed segment never duplicates a row): the predictions, or the refusals
        of :mod:`housing.store.refusals`, which take the same path."""
        self._storage = storage
        self._table = table
        self._database = database or LogDatabase(storage)
        self._observer: LogObserver = observer or _NoObserver()
        self._journal = Journal(
            Path(storage.spool_dir),
            name,
            fsync=storage.journal_fsync,
            min_free_bytes=int(storage.journal_min_free_mb * 2**20),
        )
        self._journaled = storage.journal
        self._refuse = storage.on_log_unavailable == "refuse"
        self._buffer: list[dict[str, Any]] = []
        self._buffer_oldest = 0.0
        self._pending: list[Segment] = []  # sealed segments the database has not taken yet
        self._lock = threading.Condition()  # the buffer and the open journal segment
        self._write_lock = threading.Lock()  # one database writer at a time
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_attempt = 0.0
        self._next_orphan_scan = 0.0
        self._next_health_check = 0.0
        self._next_trial = 0.0
        self._bulk: tuple[Engine, BulkInsert] | None = None
        self._unavailable: str | None = None
        self._dropped_unreported = 0
        self._dropped_total = 0
        self._last_report = time.monotonic()
        self.spool_dir = Path(storage.spool_dir)

    # ------------------------------------------------------------------ lifecycle

    @property
    def engine(self) -> Engine:
        return self._database.engine

    def start(self) -> PredictionLogWriter:
        """Take this worker's journal, replay what dead workers left, start the thread."""
        self._journal.open()
        self._replay_orphans()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Write everything still queued (it stays journaled if the database is down), stop."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._drain(final=True)
        with self._lock:
            lost = len(self._buffer)  # journal off, database and disk both refused them
            self._buffer = []
        if lost:
            self._drop(lost)
        self._report_unlogged(force=True)
        self._journal.close(keep_lock_file=bool(self._pending))

    # ------------------------------------------------------------------ request path

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Journal one model batch and queue it (called before any of its answers is sent).

        Raises :class:`PredictionLogUnavailable` under ``refuse`` when nothing can take the
        rows; under ``serve`` the rows are counted as dropped instead.
        """
        if not rows:
            return
        now = time.time()
        if self._unavailable is not None and not self._trial_due():
            self._unlogged(rows)
            return
        if not self._journaled:  # memory only: _move_queue decides when the spool recovers
            self._queue(rows, now)
            return
        data = encode_batch(rows)
        with self._lock:
            try:
                self._journal.append(data, len(rows), now)
            except OSError as exc:
                journal_error: OSError = exc
            else:  # journaled; readiness returns through _check_health's probe
                self._queue(rows, now)
                return
        self._observer.write_failed("journal", error_kind(journal_error))
        # The journal refused (full disk, say): the database is the only durable place left.
        store_error = self._insert(list(rows))
        if store_error is None:
            self._recovered()
            return
        self._become_unavailable(
            f"journal: {_short(journal_error)}; database: {_short(store_error)}"
        )
        self._unlogged(rows)

    def _queue(self, rows: Sequence[dict[str, Any]], now: float) -> None:
        with self._lock:
            if not self._buffer:
                self._buffer_oldest = now
            self._buffer.extend(rows)
            if len(self._buffer) >= self._storage.flush_max_rows:
                self._lock.notify_all()

    def flush(self) -> bool:
        """Write the queue now (used before feedback looks a prediction up); True on success."""
        return self._drain(final=False)

    @property
    def accepting(self) -> bool:
        """False while the policy refuses predictions because nothing can take rows."""
        return self._unavailable is None or not self._refuse

    @property
    def unavailable_reason(self) -> str | None:
        return self._unavailable

    @property
    def backlog(self) -> int:
        """Journal depth: rows answered but not yet in the database (queued plus sealed)."""
        return len(self._buffer) + sum(segment.rows for segment in self._pending)

    @property
    def dropped(self) -> int:
        """Answered rows that nothing could take (only ever non-zero under ``serve``)."""
        return self._dropped_total

    # ------------------------------------------------------------------ unavailable

    def _trial_due(self) -> bool:
        """While unavailable, let one real batch per retry interval try the journal and store.

        Only real rows prove that the store has room again: a probe's one-page write can fit in
        SQLite's existing WAL on a full disk and would flip readiness back too early (measured:
        ready again within one retry interval, every time, while real batches kept failing).
        """
        now = time.monotonic()
        with self._lock:
            if now < self._next_trial:
                return False
            self._next_trial = now + self._storage.retry_interval_s
            return True

    def _recovered(self) -> None:
        if self._unavailable is not None:
            logger.warning("prediction log: rows can be stored again; accepting predictions")
            self._unavailable = None

    def _become_unavailable(self, reason: str) -> None:
        if self._unavailable is None:
            logger.error(
                "prediction log: nothing can take rows (%s); policy %s: %s",
                reason,
                self._storage.on_log_unavailable,
                "predictions are refused and the worker reports not ready"
                if self._refuse
                else "predictions are answered but not logged",
            )
        self._unavailable = reason
        with self._lock:
            self._next_trial = time.monotonic() + self._storage.retry_interval_s

    def _unlogged(self, rows: Sequence[dict[str, Any]]) -> None:
        if self._refuse:
            raise PredictionLogUnavailable(
                f"the prediction log cannot store rows ({self._unavailable}); "
                "the request was not answered, retry later"
            )
        self._drop(len(rows))

    def _drop(self, count: int) -> None:
        self._dropped_unreported += count
        self._dropped_total += count
        self._observer.rows_dropped(count)

    def _report_unlogged(self, *, force: bool = False) -> None:
        interval = self._storage.unlogged_report_interval_s
        now = time.monotonic()
        if not self._dropped_unreported or (not force and now - self._last_report < interval):
            return
        logger.error(
            "prediction log: %d answered predictions NOT logged in the last %.0f s (%s); "
            "%d since start",
            self._dropped_unreported,
            now - self._last_report,
            self._unavailable or "recovered",
            self._dropped_total,
        )
        self._dropped_unreported = 0
        self._last_report = now

    def _check_health(self) -> None:
        """Probe the journal's disk, and the database when the disk fails (every retry interval).

        Runs in every worker, busy or idle, so a full disk turns readiness false everywhere,
        and back once the journal can take rows again (or a trial batch reached the database).
        """
        try:
            self._journal.probe()
        except OSError as exc:
            self._observer.write_failed("journal", error_kind(exc))
            journal_error: OSError | None = exc
        else:
            journal_error = None
        if journal_error is None:
            self._recovered()
            return
        # The journal's disk is full. A failed store probe turns even an idle worker unready;
        # a probe that passes does not make a refusing worker ready again (see _trial_due).
        store_error = self._probe_store()
        if store_error is not None:
            self._become_unavailable(
                f"journal: {_short(journal_error)}; database: {_short(store_error)}"
            )

    def _probe_store(self) -> BaseException | None:
        """A real write (it dirties a page, so a full disk fails it), without changing data."""
        try:
            engine = self._database.ready()
            with engine.begin() as connection:
                connection.execute(
                    update(schema_info)
                    .where(schema_info.c.id == 1)
                    .values(version=schema_info.c.version)
                )
        except (SQLAlchemyError, OSError) as exc:
            self._observer.write_failed("store", error_kind(exc))
            return exc
        return None

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
            except Exception:  # the log thread must outlive any surprise
                logger.exception("prediction log writer: unexpected error")
                self._observer.write_failed("store", "other")

    def _drain(self, *, final: bool) -> bool:
        """Retry sealed segments, then move the queue to the database; True if all went in."""
        with self._write_lock:
            now = time.monotonic()
            if final or now >= self._next_health_check:
                self._next_health_check = now + self._storage.retry_interval_s
                self._check_health()
            database_ok = not self._pending
            retry_due = final or now >= self._next_attempt
            if retry_due:
                database_ok = self._retry_pending()
                if database_ok and (final or now >= self._next_orphan_scan):
                    self._next_orphan_scan = now + self._storage.retry_interval_s
                    database_ok = self._replay_orphans()
            # While the database is down, journaled rows wait in the open segment until the
            # next retry; rows that are only in memory (journal off) go to disk at once.
            if database_ok or retry_due or not self._journaled:
                self._move_queue(database_ok)
            self._report_unlogged()
            lag = time.time() - self._oldest() if self.backlog else 0.0
            self._observer.backlog_changed(self.backlog, max(0.0, lag))
            return database_ok and not self.backlog

    def _move_queue(self, database_ok: bool) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            oldest = self._buffer_oldest
            segment = self._journal.seal() if self._journaled else None
        if not rows:
            return
        if database_ok and self._insert(rows) is None:
            if segment is not None:
                segment.path.unlink(missing_ok=True)
            return
        if segment is not None:
            self._pending.append(segment)
            return
        try:  # journal off: the rows exist only in memory; put them on disk now
            self._pending.append(self._journal.write_sealed(encode_batch(rows), len(rows), oldest))
        except OSError as exc:
            self._observer.write_failed("journal", error_kind(exc))
            with self._lock:
                self._buffer[:0] = rows
                self._buffer_oldest = oldest
            self._become_unavailable(f"database and spool both refused rows: {_short(exc)}")

    def _oldest(self) -> float:
        times = [segment.oldest for segment in self._pending]
        if self._buffer:
            times.append(self._buffer_oldest)
        return min(times) if times else time.time()

    def _retry_pending(self) -> bool:
        while self._pending:
            segment = self._pending[0]
            if self._insert(decode_segment(segment.path)) is not None:
                return False
            segment.path.unlink(missing_ok=True)
            self._pending.pop(0)
        return True

    def _replay_orphans(self) -> bool:
        """Replay segments of dead workers; False if the database refused one."""
        refused: list[bool] = []

        def store(rows: list[dict[str, Any]]) -> bool:
            ok = self._insert(rows) is None
            refused.append(not ok)
            return ok

        try:
            self._journal.replay_orphans(store)
        except OSError as exc:
            logger.warning("prediction journal: cannot replay leftovers (%s)", exc)
        return not any(refused)

    def _insert(self, rows: list[dict[str, Any]]) -> BaseException | None:
        """One ``executemany`` of ``rows``; the error when the database refused them."""
        if not rows:
            return None
        started = time.perf_counter()
        try:
            engine = self._database.ready()
            if self._bulk is None or self._bulk[0] is not engine:  # a new engine: path replaced
                self._bulk = (engine, BulkInsert(engine, self._table))
            with engine.begin() as connection:
                self._bulk[1](connection, rows)
        except (SQLAlchemyError, OSError) as exc:
            self._next_attempt = time.monotonic() + self._storage.retry_interval_s
            logger.warning("prediction log: database unavailable, rows stay journaled (%s)", exc)
            self._observer.write_failed("store", error_kind(exc))
            return exc
        self._observer.batch_written(len(rows), time.perf_counter() - started)
        return None
