"""What must survive: SIGTERM under load, a database outage, a model swap under load.

Each test runs its own ``bentoml serve`` (they stop or disturb it) with 2 workers, the way it
runs in production.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from housing.config import Settings
from tests.fixtures.serving import (
    LoadGenerator,
    example_records,
    logged_prediction_ids,
    running_service,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def test_sigterm_under_load_loses_no_answered_prediction(
    champion_settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    records = example_records(champion_settings)
    with running_service(
        champion_settings,
        log_dir=tmp_path,
        storage__url=url,
        storage__spool_dir=tmp_path / "spool",
        # Rows stay buffered: only the shutdown drain can save them.
        storage__flush_interval_s=60,
        storage__flush_max_rows=100000,
        service__workers=2,
    ) as service:
        with LoadGenerator(service.url, records, clients=8, per_request=3) as load:
            load.wait_for_answers(300)
            service.process.send_signal(signal.SIGTERM)
            assert service.process.wait(60) == 0, service.log_tail()
        answered = list(load.answered_ids)
    assert len(answered) >= 300
    missing = set(answered) - logged_prediction_ids(url, answered)
    assert not missing, f"{len(missing)} of {len(answered)} answered predictions not logged"


def test_database_outage_spools_then_replays_every_prediction(
    champion_settings: Settings, tmp_path: Path
) -> None:
    db_path = tmp_path / "predictions.db"
    url = f"sqlite:///{db_path}"
    spool = tmp_path / "spool"
    records = example_records(champion_settings)
    with running_service(
        champion_settings,
        log_dir=tmp_path,
        storage__url=url,
        storage__spool_dir=spool,
        storage__flush_interval_s=0.1,
        storage__sqlite_busy_timeout_ms=100,
        storage__retry_interval_s=0.3,
        service__workers=2,
    ) as service:
        service.predict(records[:1])  # schema exists
        # The outage: another process holds the write lock, so every log write times out.
        blocker = sqlite3.connect(db_path, timeout=5, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with LoadGenerator(service.url, records, clients=4) as load:
                load.wait_for_answers(200)
                time.sleep(1.0)
            assert set(load.statuses) == {200}, "predictions must be answered during the outage"
            assert list(spool.glob("*.jsonl")), "rows were not spooled"
            assert service.metrics()["housing_log_backlog_rows"] > 0
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        answered = list(load.answered_ids)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if logged_prediction_ids(url, answered) == set(answered):
                break
            time.sleep(0.2)
        assert logged_prediction_ids(url, answered) == set(answered)
        deadline = time.monotonic() + 10
        while service.metrics()["housing_log_backlog_rows"] > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service.metrics()["housing_log_backlog_rows"] == 0
        assert not list(spool.glob("*.jsonl"))
        assert service.metrics()["housing_log_write_errors_total"] > 0


def test_hot_swap_under_load_fails_no_request(training_settings: Settings, tmp_path: Path) -> None:
    """A promote while clients are busy: every request answered, then only the new version."""
    from housing.registry import promote
    from training.train import run_training

    assert run_training(training_settings, reason="hot swap test v1").decision.promote
    run_training(training_settings, force=True, reason="hot swap test v2")
    promote(training_settings, 1, reason="hot swap test: serve v1 first")
    records = example_records(training_settings)
    with running_service(
        training_settings,
        log_dir=tmp_path,
        storage__url=f"sqlite:///{tmp_path / 'predictions.db'}",
        storage__spool_dir=tmp_path / "spool",
        service__model_poll_interval_s=0.5,
        service__workers=2,
    ) as service:
        with LoadGenerator(service.url, records, clients=6) as load:
            load.wait_for_answers(200)
            promote(training_settings, 2, reason="hot swap test: the new champion")
            deadline = time.monotonic() + 60
            while load.versions[-50:] != ["2"] * 50 and time.monotonic() < deadline:
                time.sleep(0.1)
            seen_after_swap = len(load.versions)
            load.wait_for_answers(len(load.answered_ids) + 200)
        assert set(load.statuses) == {200}, {s for s in load.statuses if s != 200}
        assert not load.errors, load.errors[:3]
        assert load.versions[0] == "1"
        assert set(load.versions[seen_after_swap:]) == {"2"}
        assert service.client.get("/model").json()["model_version"] == "2"
        # Initial load and the swap, in each of the 2 workers.
        assert service.metrics()["housing_model_swaps_total"] == 4
