"""Shadow to champion on production labels, end to end with a real ``bentoml serve``: start a
shadow without a restart, send traffic whose prices moved (concept shift) with feedback, let
``housing monitor`` compare both models, refuse ``promote --from-shadow`` with too few labels
(exit 2, one line), then promote and watch the running service swap."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from housing import registry
from housing.store.tables import predictions, shadow_predictions
from monitoring.simulator import simulate
from support.prediction_log import logged_rows
from tests.fixtures.monitoring import run_housing
from tests.fixtures.serving import running_service, wait_until
from tests.fixtures.training import copy_mlflow_db, make_settings

OVERRIDES = {
    "monitoring__window__last_n": 100_000,
    "simulator__feedback_delay_s": 0.2,
    "service__model_poll_interval_s": 1,
    "storage__flush_interval_s": 0.1,
}
ROWS = 1000


def test_shadow_is_judged_on_production_labels_and_promoted_without_restart(
    tmp_path, bentoml_home, mlflow_template_db, monkeypatch
) -> None:
    from housing.runtime import prepare_process
    from training.train import run_training

    copy_mlflow_db(mlflow_template_db, tmp_path)
    settings = make_settings(tmp_path, bentoml_home=bentoml_home, **OVERRIDES)
    prepare_process(settings)
    weak = settings.model_copy(deep=True)
    weak.model.params["max_iter"] = 3
    run_training(weak, reason="weak e2e champion")
    run_training(settings, reason="better e2e challenger")
    registry.promote(settings, 1, "e2e: the weak champion serves")

    with running_service(settings, **OVERRIDES) as service:
        monkeypatch.setenv(settings.service.feedback.token_env, service.token)
        pid = service.process.pid
        started = run_housing(settings, "shadow", "start", "2", **OVERRIDES)
        assert started.returncode == 0, started.stderr
        model = lambda: httpx.get(f"{service.url}/model", timeout=10).json()  # noqa: E731
        wait_until(lambda: (model().get("shadow") or {}).get("model_version") == "2", "the shadow")

        start = datetime.now(UTC)
        market = simulate(settings, "new_market", ROWS, url=service.url, feedback_fraction=0.6)
        assert market.answered == ROWS and market.model_versions == {"1": ROWS}
        wait_until(
            lambda: logged_rows(settings.storage.url, predictions) >= ROWS, "the prediction log"
        )
        metrics = service.metrics()
        scored = metrics.get("housing_shadow_rows_total", 0.0)
        skipped = metrics.get("housing_shadow_skipped_rows_total", 0.0)
        assert scored > 0 and scored + skipped >= ROWS / 2  # the thread may still be scoring
        wait_until(
            lambda: logged_rows(settings.storage.url, shadow_predictions) >= scored,
            "the shadow rows",
        )

        monitored = run_housing(settings, "monitor", "--since", start.isoformat(), **OVERRIDES)
        assert monitored.returncode in (0, 3), monitored.stdout + monitored.stderr
        reports = settings.monitoring.reports_dir
        run_dir = next(reports.glob("*/summary.json")).parent
        comparison = json.loads((run_dir / "summary.json").read_text())["shadow"]
        assert comparison["champion"]["version"] == "1" and comparison["shadow"]["version"] == "2"
        assert comparison["shadow"]["rmse"] < comparison["champion"]["rmse"]
        page = (run_dir / "report.html").read_text()
        assert "Champion vs shadow on production labels" in page and "shadow-interval" in page

        refused = run_housing(
            settings, "promote", "--from-shadow", retrain__shadow_min_labels=100_000, **OVERRIDES
        )
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert registry.get_champion(settings).version == 1

        promoted = run_housing(settings, "promote", "--from-shadow", **OVERRIDES)
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        wait_until(lambda: model()["model_version"] == "2", "the swap to version 2")
        wait_until(lambda: model().get("shadow") is None, "the shadow to stop")
        assert service.process.pid == pid and service.process.poll() is None
        card = httpx.get(f"{service.url}/model/card", timeout=30)
        assert card.status_code == 200 and "from shadow:" in card.text
