"""The write-ahead journal of the prediction log: what a killed worker leaves is replayed once.

Real files, real SQLite, a real process killed with SIGKILL (no mocks).
"""

from __future__ import annotations

import errno
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from housing.config import Settings
from housing.store.database import LogDatabase, durable, error_kind, insert_ignoring_conflicts
from housing.store.feedback import PlausibleRange, record_feedback
from housing.store.journal import decode_segment, encode_batch
from housing.store.prediction_log import PredictionLogWriter
from housing.store.tables import predictions
from tests.fixtures.serving import log_rows
from tests.fixtures.training import ROOT, make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, storage__flush_interval_s=0.05, storage__retry_interval_s=0.1,
                         storage__sqlite_busy_timeout_ms=50)  # fmt: skip


def _ids(database: LogDatabase) -> list[str]:
    with database.ready().connect() as connection:
        return list(connection.execute(select(predictions.c.prediction_id)).scalars())


_KILLED_WORKER = textwrap.dedent(
    """
    import json, os, signal, sys
    from datetime import datetime
    from housing.config import load_config
    from housing.store.prediction_log import PredictionLogWriter
    settings = load_config(sys.argv[1], environ=json.loads(sys.argv[2]))
    writer = PredictionLogWriter(settings.storage).start()
    for line in sys.stdin:
        rows = json.loads(line)
        for row in rows:
            row["created_at"] = datetime.fromisoformat(row["created_at"])
        writer.append(rows)  # one model batch
    print("appended", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no flush: what kill -9 leaves
    """
)


def test_rows_of_a_killed_worker_are_replayed_exactly_once_by_the_next(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.fixtures.training import settings_env

    environ = settings_env(tmp_path, fast=True, storage__flush_interval_s=60,
                           storage__flush_max_rows=100000)  # fmt: skip
    batches = [log_rows(5), log_rows(1), log_rows(30)]
    stdin = "".join(encode_batch(batch).decode() for batch in batches)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, str(settings.source), json.dumps(environ)],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "appended" in done.stdout
    expected = sorted(row["prediction_id"] for batch in batches for row in batch)
    database = LogDatabase(settings.storage)
    assert _ids(database) == []  # nothing reached the database: it was all in the journal
    # Part of it was already stored once (the kill came after a commit): never duplicated.
    engine = database.ready()
    with engine.begin() as connection:
        connection.execute(insert_ignoring_conflicts(engine, predictions), batches[0])
    PredictionLogWriter(settings.storage, database=database).start().close()
    assert sorted(_ids(database)) == expected
    assert not list(Path(settings.storage.spool_dir).iterdir())


def test_a_torn_last_line_is_skipped_and_the_rest_replayed(
    settings: Settings, tmp_path: Path
) -> None:
    spool = Path(settings.storage.spool_dir)
    spool.mkdir(parents=True)
    rows = log_rows(4)
    segment = spool / "predictions-123_dead-0000000001.jsonl"
    segment.write_bytes(encode_batch(rows[:3]) + encode_batch(rows[3:])[:20])
    assert [row["prediction_id"] for row in decode_segment(segment)] == [
        row["prediction_id"] for row in rows[:3]
    ]
    writer = PredictionLogWriter(settings.storage).start()
    writer.close()
    assert sorted(_ids(LogDatabase(settings.storage))) == sorted(
        r["prediction_id"] for r in rows[:3]
    )


def test_a_live_workers_journal_is_left_alone(settings: Settings) -> None:
    database = LogDatabase(settings.storage)
    live = PredictionLogWriter(settings.storage, database=database).start()
    path = settings.storage.url.split(":///", 1)[1]
    blocker = sqlite3.connect(path, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        live.append(log_rows(3))  # journaled; the database is locked, so it stays there
        journal = sorted(Path(settings.storage.spool_dir).glob("*.jsonl"))
        other = PredictionLogWriter(settings.storage).start()  # replays dead workers' only
        assert sorted(Path(settings.storage.spool_dir).glob("*.jsonl")) == journal
        other.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Once the lock is released the live writer's own retry may store the rows at any moment
    # (so no "still empty" check here, it raced under load); either way, exactly once.
    live.close()
    assert len(_ids(database)) == 3


def test_the_store_follows_a_sqlite_file_that_was_moved_away(
    settings: Settings, tmp_path: Path
) -> None:
    database = LogDatabase(settings.storage)
    writer = PredictionLogWriter(settings.storage, database=database).start()
    feedback_database = LogDatabase(settings.storage)
    plausible = PlausibleRange(1000, 1e7)
    writer.append(log_rows(2))
    writer.flush()
    path = Path(settings.storage.url.split(":///", 1)[1])
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.move(source, tmp_path / f"moved{suffix}")
    [row] = log_rows(1)
    writer.append([row])
    assert writer.flush()
    [outcome] = record_feedback(
        durable(feedback_database.ready()), [(row["prediction_id"], 2e5)], plausible
    )
    assert outcome.outcome == "accepted"
    assert _ids(database) == [row["prediction_id"]]  # the new file, with its schema
    writer.close()


def test_write_errors_are_named_by_kind() -> None:
    assert error_kind(OSError(errno.ENOSPC, "No space left on device")) == "disk_full"
    assert error_kind(OSError(errno.EROFS, "Read-only file system")) == "not_writable"
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert error_kind(locked) == "locked"
    full = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert error_kind(full) == "disk_full"
    refused = OperationalError("connect", {}, Exception("connection refused"))
    assert error_kind(refused) == "unreachable"


def test_journal_file_names_keep_owner_and_sequence_apart(settings: Settings) -> None:
    writer = PredictionLogWriter(settings.storage).start()
    writer.append(log_rows(1))
    names = sorted(p.name for p in Path(settings.storage.spool_dir).iterdir())
    owner = writer._journal.owner
    assert names == [f"predictions-{owner}-0000000001.jsonl", f"predictions-{owner}.lock"]
    writer.close()
    assert not list(Path(settings.storage.spool_dir).iterdir())
    with writer.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(predictions)).scalar_one() == 1
