"""Monitoring/simulator configuration is validated on load; scenarios shape traffic as stated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing.config import ConfigError
from monitoring.simulator import SimulationError, apply_scenario, simulate
from tests.fixtures.monitoring import monitoring_settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HOUSING_MONITORING__DRIFT__NUM_METHOD", "auto", "monitoring.drift.num_method"),
        ("HOUSING_MONITORING__DRIFT__CAT_METHOD", "wasserstein", "monitoring.drift.cat_method"),
        ("HOUSING_SIMULATOR__FEEDBACK_FRACTION", "1.5", "simulator.feedback_fraction"),
        (
            "HOUSING_SIMULATOR__SCENARIOS__X__SCALE__OCEAN_PROXIMITY",
            "2",
            "simulator.scenarios.x.scale: 'ocean_proximity' is not a numeric feature",
        ),
        (
            "HOUSING_SIMULATOR__SCENARIOS__X__CATEGORY_WEIGHTS__OCEAN_PROXIMITY__MARS",
            "2",
            "unknown categories ['mars']",
        ),
        ("HOUSING_RETRAIN__HOLDOUT_TOLERANCE", "-0.1", "retrain.holdout_tolerance"),
    ],
)
def test_bad_values_name_the_key(tmp_path, variable, value, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        monitoring_settings(tmp_path, {variable: value})


@pytest.fixture
def houses(monitor_settings) -> pd.DataFrame:
    return pd.read_csv(monitor_settings.dataset.path).head(2000)


def test_scenarios_scale_clip_reweight_and_reprice(monitor_settings, houses) -> None:
    scenarios = monitor_settings.simulator.scenarios
    target = monitor_settings.dataset.target
    frame, prices = apply_scenario(houses, scenarios["income_up"], monitor_settings, 500, seed=1)
    limit = monitor_settings.dataset.features["median_income"].max
    assert frame["median_income"].max() <= limit
    assert frame["median_income"].mean() > 1.4 * houses["median_income"].mean()
    assert list(frame.columns) == monitor_settings.feature_names

    frame, prices = apply_scenario(houses, scenarios["new_market"], monitor_settings, 300, seed=1)
    assert set(frame["ocean_proximity"]) == {"NEAR BAY"}
    bay = houses[houses["ocean_proximity"] == "NEAR BAY"][target]
    assert np.isclose(prices.mean() / 1.35, bay.mean(), rtol=0.1)

    again, _ = apply_scenario(houses, scenarios["new_market"], monitor_settings, 300, seed=1)
    pd.testing.assert_frame_equal(frame, again)


def test_unknown_scenario_and_missing_token_are_clear(monitor_settings, monkeypatch) -> None:
    with pytest.raises(SimulationError, match=r"unknown scenario 'boom' \(configured: baseline"):
        simulate(monitor_settings, "boom", 10)
    monkeypatch.delenv(monitor_settings.service.feedback.token_env, raising=False)
    with pytest.raises(SimulationError, match=r"feedback needs a token: set \$HOUSING_FEEDBACK"):
        simulate(monitor_settings, "baseline", 10, feedback_fraction=0.5)
