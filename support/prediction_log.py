"""What a test or a benchmark reads back from a prediction log (SQLite or PostgreSQL URL)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, create_engine, func, select

from housing.store.tables import predictions

# Ids per ``IN (...)`` query: well below SQLite's bound-parameter limit.
ID_CHUNK = 500


def logged_prediction_ids(storage_url: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are in the prediction log at ``storage_url``."""
    engine = create_engine(storage_url)
    found: set[str] = set()
    try:
        with engine.connect() as connection:
            unique = list(dict.fromkeys(ids))
            for start in range(0, len(unique), ID_CHUNK):
                chunk = unique[start : start + ID_CHUNK]
                query = select(predictions.c.prediction_id).where(
                    predictions.c.prediction_id.in_(chunk)
                )
                found.update(connection.execute(query).scalars())
    finally:
        engine.dispose()
    return found


def logged_rows(storage_url: str, table: Table = predictions) -> int:
    """How many rows ``table`` (default: the predictions) of the log at ``storage_url`` holds."""
    engine = create_engine(storage_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()
