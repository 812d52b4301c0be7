"""In-process checks of the serving building blocks: batching, schema, auth, log, feedback."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from housing.config import ConfigError, Settings
from housing.store.feedback import PlausibleRange, record_feedback
from housing.store.prediction_log import PredictionLogWriter
from housing.store.tables import feedback, predictions
from serving.auth import bearer_matches, feedback_token
from serving.batching import AdaptiveBatcher
from serving.errors import Overloaded
from serving.prediction import prediction_ids
from serving.schema import describe_errors, example_record, house_record_model, records_adapter
from tests.fixtures.serving import log_rows
from tests.fixtures.training import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, storage__flush_interval_s=0.05, storage__retry_interval_s=0.1,
                         storage__sqlite_busy_timeout_ms=50)  # fmt: skip


# ----------------------------------------------------------------------------- batching


def test_concurrent_submits_share_model_calls_and_keep_their_own_results() -> None:
    calls: list[int] = []

    def score(items: list[int]) -> list[int]:
        calls.append(len(items))
        return [item * 10 for item in items]

    async def scenario() -> list[list[int]]:
        batcher = AdaptiveBatcher(score, max_batch_size=64, max_latency_s=5.0)
        results = await asyncio.gather(*(batcher.submit([i, i + 1000]) for i in range(40)))
        batcher.close()
        return results

    results = asyncio.run(scenario())
    assert results == [[i * 10, (i + 1000) * 10] for i in range(40)]
    assert sum(calls) == 80
    assert max(calls) <= 64 and len(calls) < 40  # merged, never over the limit


def test_a_failing_model_call_fails_only_its_batch_with_the_reason() -> None:
    def score(items: list[int]) -> list[int]:
        if -1 in items:
            raise ValueError("cannot price -1")
        return items

    async def scenario() -> tuple[BaseException | None, list[int]]:
        batcher = AdaptiveBatcher(score, max_batch_size=1, max_latency_s=5.0)
        bad, good = await asyncio.gather(
            batcher.submit([-1]), batcher.submit([2]), return_exceptions=True
        )
        batcher.close()
        return bad, good

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, ValueError) and good == [2]


def test_requests_waiting_longer_than_the_latency_bound_are_refused() -> None:
    release = threading.Event()

    def score(items: list[int]) -> list[int]:
        release.wait(5)
        return items

    async def scenario() -> list[Any]:
        batcher = AdaptiveBatcher(score, max_batch_size=1, max_latency_s=0.05)
        first = asyncio.ensure_future(batcher.submit([1]))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.submit([2]))
        await asyncio.sleep(0.2)
        release.set()
        results = await asyncio.gather(first, second, return_exceptions=True)
        batcher.close()
        return results

    first, second = asyncio.run(scenario())
    assert first == [1]
    assert isinstance(second, Overloaded)


# ----------------------------------------------------------------------------- schema


def test_record_schema_follows_the_configuration(settings: Settings) -> None:
    model = house_record_model(settings)
    record = example_record(settings)
    assert model.model_validate(record).model_dump() == record
    assert model.model_validate(record | {"total_bedrooms": None})  # nullable
    adapter = records_adapter(model, max_records=3)
    bad = [record, record | {"median_income": -1.0, "ocean_proximity": "x", "pool": 1}]
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(bad)
    described = describe_errors(caught.value, root="houses")
    assert {(index, field) for index, field, _ in described} == {
        (1, "median_income"), (1, "ocean_proximity"), (1, "pool"),
    }  # fmt: skip
    with pytest.raises(ValidationError, match="at most 3 items"):
        adapter.validate_python([record] * 4)
    with pytest.raises(ValidationError, match="finite number"):
        model.model_validate(record | {"latitude": float("nan")})


# ----------------------------------------------------------------------------- auth


def test_feedback_token_is_required_unless_explicitly_open(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="HOUSING_FEEDBACK_TOKEN"):
        feedback_token(settings, {})
    assert feedback_token(settings, {"HOUSING_FEEDBACK_TOKEN": "s3cret"}) == "s3cret"
    open_settings = settings.model_copy(
        update={"service": settings.service.model_copy(
            update={"feedback": settings.service.feedback.model_copy(
                update={"allow_unauthenticated": True})})}
    )  # fmt: skip
    assert feedback_token(open_settings, {}) is None


def test_bearer_token_check() -> None:
    assert bearer_matches("Bearer s3cret", "s3cret")
    assert bearer_matches("bearer  s3cret ", "s3cret")
    assert not bearer_matches("Bearer s3cre", "s3cret")
    assert not bearer_matches("Basic s3cret", "s3cret")
    assert not bearer_matches(None, "s3cret")
    assert bearer_matches(None, None)  # no token configured: open (development only)


# ----------------------------------------------------------------------------- store


def _count(writer: PredictionLogWriter) -> int:
    with writer.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(predictions)).scalar_one()


def test_log_writer_spools_while_the_database_is_locked_and_replays_after(
    settings: Settings,
) -> None:
    writer = PredictionLogWriter(settings.storage).start()
    writer.append(log_rows(10))
    assert writer.flush() and _count(writer) == 10
    path = settings.storage.url.split(":///", 1)[1]
    blocker = sqlite3.connect(path, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer.append(log_rows(25))
        assert not writer.flush()
        assert writer.backlog == 25
        assert len(list(Path(settings.storage.spool_dir).glob("*.jsonl"))) >= 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    writer.append(log_rows(5))
    writer.close()
    assert _count(writer) == 40
    assert writer.backlog == 0
    assert not list(Path(settings.storage.spool_dir).glob("*.jsonl"))


def test_spooled_rows_left_by_a_stopped_writer_are_replayed_by_the_next(
    settings: Settings,
) -> None:
    first = PredictionLogWriter(settings.storage).start()
    path = settings.storage.url.split(":///", 1)[1]
    first.append(log_rows(1))
    first.flush()
    blocker = sqlite3.connect(path, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    first.append(log_rows(7))
    first.close()  # database still locked: the rows stay in the journal
    blocker.execute("ROLLBACK")
    blocker.close()
    second = PredictionLogWriter(settings.storage).start()  # replays leftovers at start-up
    assert _count(second) == 8
    second.close()
    assert not list(Path(settings.storage.spool_dir).iterdir())


def test_feedback_from_many_threads_for_one_prediction_stores_one_value(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # the configured busy_timeout: writers queue, none fails
    writer = PredictionLogWriter(settings.storage).start()
    [row] = log_rows(1)
    writer.append([row])
    writer.close()
    plausible = PlausibleRange(1000, 1e7)
    prices = [100000.0 + i for i in range(16)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def send(price: float) -> None:
        [outcome] = record_feedback(writer.engine, [(row["prediction_id"], price)], plausible)
        with lock:
            outcomes.append(outcome.outcome)

    threads = [threading.Thread(target=send, args=(p,)) for p in prices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["conflict"] * 15
    with writer.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(feedback)).scalar_one() == 1


def test_schema_is_created_and_an_old_log_gains_new_columns(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    from housing.store.database import ensure_schema

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE predictions (prediction_id VARCHAR(36) PRIMARY KEY, created_at DATETIME "
        "NOT NULL, model_version VARCHAR(32) NOT NULL, bento_tag VARCHAR(128) NOT NULL, "
        "features JSON NOT NULL, price FLOAT NOT NULL, price_low FLOAT NOT NULL, "
        "price_high FLOAT NOT NULL, latency_ms FLOAT NOT NULL)"
    )
    old.execute(
        "INSERT INTO predictions VALUES ('a', '2026-01-01 00:00:00', '1', 't', '{}', 1, 1, 1, 1)"
    )
    old.commit()
    old.close()
    engine = create_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    ensure_schema(engine)  # idempotent
    columns = {c["name"] for c in inspect(engine).get_columns("predictions")}
    assert "protocol" in columns
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT protocol FROM predictions").scalar() == "http"
    assert {"feedback", "schema_info"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(predictions)).scalar() == 1


def test_prediction_ids_are_unique_time_ordered_uuids() -> None:
    """Ids are RFC 9562 version-7 UUIDs: unique, and a later batch sorts after an earlier one
    (so the log's primary-key index grows at its end)."""
    first = prediction_ids(500)
    time.sleep(0.002)
    later = prediction_ids(500)
    assert len(set(first + later)) == 1000
    for value in first + later:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert max(first) < min(later)
