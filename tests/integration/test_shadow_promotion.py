"""Champion vs shadow on production labels: `housing monitor` reports both models and the
paired-bootstrap interval; `housing promote --from-shadow` refuses (exit 2, one line) without
enough labels and promotes the shadow when it surely wins."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from housing import bundle, registry
from housing.store.database import open_log
from monitoring.simulator import held_out_houses
from support.backfill import log_shadow_prices
from tests.fixtures.monitoring import log_houses, own_outputs, run_housing
from training.train import run_training

LOGGED = 1500  # every other one labelled: 750 labels


def test_monitor_compares_and_promote_from_shadow_obeys_the_labels(
    training_settings, tmp_path
) -> None:
    settings = own_outputs(training_settings, tmp_path / "state")
    weak = settings.model_copy(deep=True)
    weak.model.params["max_iter"] = 3  # the champion: clearly worse than the shadow
    run_training(weak, reason="weak champion")
    run_training(settings, reason="better challenger")  # the gate promotes it: undo below
    registry.promote(settings, 1, "test: the weak champion")
    registry.set_shadow(settings, 2)

    houses = held_out_houses(settings).sample(LOGGED, random_state=8).reset_index(drop=True)
    ids = log_houses(settings, houses)
    shadow_model = bundle.load_model(settings, registry.get_version(settings, 2))
    engine = open_log(settings)
    log_shadow_prices(
        engine,
        shadow_model.pricing,
        houses[settings.feature_names],
        ids,
        shadow_version="2",
        created_at=datetime.now(UTC),
    )
    engine.dispose()

    monitored = run_housing(settings, "monitor")
    assert monitored.returncode in (0, 3), monitored.stderr
    reports = settings.monitoring.reports_dir
    summary = json.loads(next(reports.glob("*/summary.json")).read_text())
    comparison = summary["shadow"]
    assert comparison["champion"]["version"] == "1" and comparison["shadow"]["version"] == "2"
    assert comparison["labelled"] == LOGGED // 2
    assert comparison["shadow"]["rmse"] < comparison["champion"]["rmse"]
    assert (
        0 < comparison["rmse_gain_low"] <= comparison["rmse_gain"] <= comparison["rmse_gain_high"]
    )
    assert comparison["shadow_better"] is True
    page = next(reports.glob("*/report.html")).read_text()
    assert "Champion vs shadow on production labels" in page and "shadow-interval" in page

    refused = run_housing(settings, "promote", "--from-shadow", retrain__shadow_min_labels=100_000)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "needs 100000" in refused.stderr
    assert registry.get_champion(settings).version == 1

    promoted = run_housing(settings, "promote", "--from-shadow")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert registry.get_champion(settings).version == 2
    assert registry.get_shadow(settings) is None
    history = registry.promotion_history(settings)
    assert history[-1]["version"] == 2 and history[-1]["reason"].startswith("from shadow:")
