"""One engine per database: feedback commits are fsync'd, prediction-log commits are not."""

from __future__ import annotations

from pathlib import Path

from housing.config import StorageConfig
from housing.store.database import create_log_engine, durable

NORMAL, FULL = 1, 2


def test_durable_transactions_share_the_pool_and_fsync_on_sqlite(tmp_path: Path) -> None:
    storage = StorageConfig(url=f"sqlite:///{tmp_path / 'log.db'}", spool_dir=tmp_path / "spool")
    engine = create_log_engine(storage)
    feedback = durable(engine)
    assert feedback.pool is engine.pool
    levels = []
    for used in (engine, feedback, engine, feedback):
        with used.begin() as connection:
            levels.append(connection.exec_driver_sql("PRAGMA synchronous").scalar())
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert levels == [NORMAL, FULL, NORMAL, FULL]
    engine.dispose()
