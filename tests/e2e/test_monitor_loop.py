"""The closed loop, end to end, as a user would run it on one machine.

A real ``bentoml serve`` process, a real SQLite prediction log, a real MLflow registry: serve
the champion, send undrifted traffic with feedback (monitor: healthy), send a new market whose
prices rose (``housing monitor --retrain``: drift/degraded, exit 3, a challenger trained on the
feedback is promoted and packaged), and watch the running service move to the new champion
without a restart.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from housing.store.database import open_log
from housing.store.tables import predictions
from monitoring.monitor import run_monitor
from monitoring.simulator import simulate
from monitoring.window import Window
from support.prediction_log import logged_rows
from tests.fixtures.monitoring import run_housing
from tests.fixtures.serving import running_service, wait_until
from tests.fixtures.training import copy_mlflow_db, make_settings

LOOP_OVERRIDES = {
    "monitoring__performance__smallest_shift": 0.15,  # healthy from ~130 labels on
    "monitoring__window__last_n": 100_000,
    "retrain__min_labels": 100,
    "simulator__feedback_delay_s": 0.2,
    "service__model_poll_interval_s": 1,
    "storage__flush_interval_s": 0.1,
}


@pytest.fixture
def loop_settings(tmp_path, bentoml_home, mlflow_template_db):
    from housing.runtime import prepare_process
    from training.train import run_training

    copy_mlflow_db(mlflow_template_db, tmp_path)
    settings = make_settings(tmp_path, bentoml_home=bentoml_home, **LOOP_OVERRIDES)
    prepare_process(settings)
    outcome = run_training(settings, reason="e2e champion")
    assert outcome.decision.promote
    return settings


def test_drift_retrain_promote_and_hot_swap(loop_settings, monkeypatch) -> None:
    import bentoml

    from housing import registry

    settings = loop_settings
    with running_service(settings, **LOOP_OVERRIDES) as service:
        monkeypatch.setenv(settings.service.feedback.token_env, service.token)

        # 1. Undrifted traffic with feedback: healthy.
        start = datetime.now(UTC)
        calm = simulate(settings, "baseline", 1000, url=service.url, feedback_fraction=0.5)
        assert calm.answered == 1000 and calm.failed_requests == 0
        assert calm.model_versions == {"1": 1000}
        assert calm.feedback_outcomes["accepted"] == calm.feedback_sent > 400
        wait_until(lambda: logged_rows(settings.storage.url) >= 1000, "1000 logged predictions")
        middle = datetime.now(UTC)
        healthy = run_monitor(settings, Window(since=start, until=middle))
        assert healthy.summary.verdict == "healthy", healthy.summary.reasons
        assert healthy.exit_code == 0

        # 2. A new market whose true prices rose: the monitor recommends retraining (exit 3),
        #    and `--retrain` trains, gates, promotes and packages a challenger.
        market = simulate(settings, "new_market", 1000, url=service.url, feedback_fraction=0.6)
        assert market.answered == 1000
        wait_until(lambda: logged_rows(settings.storage.url) >= 2000, "2000 logged predictions")
        done = run_housing(
            settings, "monitor", "--since", middle.isoformat(), "--retrain", **LOOP_OVERRIDES
        )
        print(done.stdout)  # the monitor table and the retrain decision, shown with -s
        assert done.returncode == 3, done.stdout + done.stderr
        assert "degraded" in done.stdout or "drift" in done.stdout
        assert "promoted" in done.stdout, done.stdout

        champion = registry.get_champion(settings)
        assert champion.version == 2
        client = registry.client(settings)
        run = client.get_run(champion.run_id)
        assert run.data.tags["retrain"] == "true"
        assert run.data.tags["trigger"].startswith("monitor ")
        assert run.data.metrics["challenger_recent_rmse"] < run.data.metrics["champion_recent_rmse"]
        bentos = [b for b in bentoml.bentos.list() if b.info.labels.get("model_version") == "2"]
        assert bentos, "no Bento was built for the new champion"

        # 3. The running service swaps to the new champion without a restart.
        pid = service.process.pid
        deadline = time.monotonic() + 60
        while True:
            answer = service.predict([{"longitude": -122.25, "latitude": 37.85,
                                       "housing_median_age": 40.0, "total_rooms": 1500.0,
                                       "total_bedrooms": 300.0, "population": 700.0,
                                       "households": 280.0, "median_income": 4.0,
                                       "ocean_proximity": "NEAR BAY"}])[0]  # fmt: skip
            if answer["model_version"] == "2":
                break
            assert time.monotonic() < deadline, "the service never moved to version 2"
            time.sleep(0.5)
        assert service.process.pid == pid and service.process.poll() is None
        after = run_housing(
            settings,
            *("simulate", "--scenario", "new_market", "--rows", "200", "--url", service.url),
            *("--feedback-fraction", "0"),
        )
        assert after.returncode == 0, after.stderr
        assert "200/200 houses priced (v2: 200)" in " ".join(after.stdout.split())
        # The service exposes the latest monitor run (from the log database) as gauges.
        gauges = service.metrics()
        verdict = "degraded" if "degraded" in done.stdout else "drift"
        assert gauges[f'housing_monitor_verdict{{verdict="{verdict}"}}'] == 1.0
        assert gauges["housing_monitor_labelled_rows"] > 100
        assert gauges["housing_monitor_drift_share"] > 0
        model_info = httpx.get(f"{service.url}/model", timeout=10).json()
        assert str(model_info.get("version", model_info.get("model_version"))) == "2"

    # The new champion prices the new market closer to its true prices than the old one did.
    engine = open_log(settings)
    with engine.connect() as connection:
        rows = connection.execute(
            select(predictions.c.model_version, predictions.c.price).where(
                predictions.c.created_at >= middle.replace(tzinfo=None)
            )
        ).all()
    engine.dispose()
    old = np.mean([price for version, price in rows if version == "1"])
    new = np.mean([price for version, price in rows if version == "2"])
    assert new > old
