"""Retraining from labelled production rows: validation, the recent/holdout gate, MLflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from housing import registry
from tests.fixtures.monitoring import log_houses
from training.retrain import RetrainError, retrain


@pytest.fixture
def champion(training_settings):
    from training.train import run_training

    settings = training_settings.model_copy(  # the configured holdout tolerance (3%) applies
        update={"retrain": training_settings.retrain.model_copy(update={"min_labels": 100})}
    )
    run_training(settings, reason="retrain test champion")
    return settings


def test_without_champion_it_says_what_to_do(training_settings) -> None:
    with pytest.raises(RetrainError, match="no champion to retrain against"):
        retrain(training_settings, reason="test")


def test_too_few_labels_trains_nothing(champion, holdout_houses) -> None:
    log_houses(champion, holdout_houses.head(150), labelled_share=0.5)
    outcome = retrain(champion, reason="test")
    assert outcome.version is None and not outcome.promoted
    assert "only 75 valid labelled production rows" in outcome.decision
    assert registry.get_champion(champion).version == 1


def test_new_market_feedback_is_learned_and_promoted(champion, holdout_houses) -> None:
    bay = holdout_houses[holdout_houses["ocean_proximity"] == "NEAR BAY"]
    houses = bay.sample(500, replace=True, random_state=2).reset_index(drop=True)
    houses.loc[:9, "median_income"] = 55.0  # beyond the configured range: must be left out
    log_houses(
        champion,
        houses,
        labelled_share=1.0,
        price_factor=1.35,
        start=datetime.now(UTC) - timedelta(hours=1),
    )
    outcome = retrain(champion, reason="monitor abc: live RMSE too high")
    assert outcome.invalid_rows == 10
    assert any("median_income" in note for note in outcome.notes)
    # +35% is a market move, not implausible: at most a stray label is quarantined.
    assert outcome.quarantined_rows <= 5
    assert outcome.production_rows == 490 - outcome.quarantined_rows
    assert outcome.recent_rows == round(outcome.production_rows * 0.3)
    assert outcome.promoted, outcome.decision
    assert outcome.metrics["challenger_recent_rmse"] < outcome.metrics["champion_recent_rmse"]
    assert outcome.metrics["recent_rmse_gain_low"] > 0  # the bootstrap interval excludes zero
    assert "surely better" in outcome.decision and "tolerance 3%" in outcome.decision
    assert outcome.bento_tag is None  # retraining never builds (monitoring.loop does)
    # The traffic came from holdout houses: they must not count in the holdout comparison.
    assert any("holdout rows left out of the comparison" in note for note in outcome.notes)
    current = registry.get_champion(champion)
    assert current.version == outcome.version == 2
    run = registry.client(champion).get_run(current.run_id)
    assert run.data.tags["trigger"] == "monitor abc: live RMSE too high"
    assert run.data.tags["invalid_production_rows"] == "10"
    # The configured method: the champion plus a correction learned from the production rows.
    assert run.data.params["retrain_method"] == "correction"
    assert run.data.params["correction_rows"] == str(outcome.training_rows)
