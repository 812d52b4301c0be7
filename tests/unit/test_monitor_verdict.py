"""Verdict rules over real Evidently reports of synthetic windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing.exit_codes import RETRAIN
from monitoring.analysis import analyse
from monitoring.columns import is_drifted
from monitoring.verdict import Status, decide
from monitoring.window import ACTUAL, HIGH, LOW, PREDICTION
from tests.fixtures.monitoring import monitoring_settings


def _window(rows: pd.DataFrame, labelled: int, seed: int = 1) -> pd.DataFrame:
    current = rows.sample(1500, random_state=seed).reset_index(drop=True)
    current[LOW] = current[PREDICTION] / 1.4
    current[HIGH] = current[PREDICTION] * 1.4
    current.loc[labelled:, ACTUAL] = np.nan
    return current


@pytest.fixture(scope="module")
def reference(housing_rows: pd.DataFrame) -> pd.DataFrame:
    return housing_rows.sample(5000, random_state=0).reset_index(drop=True)


@pytest.fixture
def settings(tmp_path):
    return monitoring_settings(tmp_path)


def _verdict(current: pd.DataFrame, reference: pd.DataFrame, settings):
    analysis = analyse(current, reference, settings)
    return analysis, decide(analysis, len(current), settings)


def test_same_distribution_with_labels_is_healthy(housing_rows, reference, settings) -> None:
    analysis, verdict = _verdict(_window(housing_rows, 500), reference, settings)
    assert verdict.status is Status.HEALTHY
    assert verdict.exit_code == 0
    assert analysis.drift.drift_share < settings.monitoring.drift.share_threshold
    assert verdict.performance.labelled == 500 and verdict.performance.min_labels < 500
    checks = {c.name for c in verdict.performance.checks}
    assert checks == {"bias", "rms_log_error_ratio", "coverage"}
    assert {c.method for c in analysis.drift.columns} == {"wasserstein", "jensenshannon"}


def test_shifted_features_and_prices_is_drift(housing_rows, reference, settings) -> None:
    current = _window(housing_rows, 0)
    for column in ("median_income", "total_rooms", "population", "households"):
        current[column] *= 1.8
    current[PREDICTION] *= 1.6
    analysis, verdict = _verdict(current, reference, settings)
    assert verdict.status is Status.DRIFT
    assert verdict.exit_code == RETRAIN
    assert verdict.performance_check is Status.INSUFFICIENT_DATA
    assert analysis.drift.prediction_drift is not None and analysis.drift.prediction_drift.drifted
    assert any("median_income" in reason for reason in verdict.reasons)


def test_too_few_labels_still_checks_drift(housing_rows, reference, settings) -> None:
    _, verdict = _verdict(_window(housing_rows, 29), reference, settings)
    assert verdict.drift_check is Status.HEALTHY
    assert verdict.performance_check is Status.INSUFFICIENT_DATA
    assert verdict.status is Status.INSUFFICIENT_DATA and verdict.exit_code == 0
    assert any("29 labelled rows, at least 30 needed to judge" in r for r in verdict.reasons)


def test_labels_below_min_labels_can_not_claim_healthy(housing_rows, reference, settings) -> None:
    """100 labels: no sign of degradation, yet too few to rule out prices 10% off."""
    _, verdict = _verdict(_window(housing_rows, 100), reference, settings)
    assert verdict.performance_check is Status.INSUFFICIENT_DATA
    needed = verdict.performance.min_labels
    assert 100 < needed < 500
    assert any(f"calling it healthy needs {needed}" in r for r in verdict.reasons)


def test_prices_that_moved_are_degraded(housing_rows, reference, settings) -> None:
    current = _window(housing_rows, 600)
    current[ACTUAL] *= 1.5  # the market moved; the model did not
    _, verdict = _verdict(current, reference, settings)
    assert verdict.status is Status.DEGRADED
    assert verdict.exit_code == RETRAIN
    assert verdict.performance.bias < 0
    assert any("below the reference's bias" in r for r in verdict.reasons)
    assert any("interval coverage" in r for r in verdict.reasons)
    bias = next(c for c in verdict.performance.checks if c.name == "bias")
    assert bias.breached and bias.high < -bias.limit  # log(1/1.5) = -0.41


def test_reference_without_intervals_skips_only_coverage(housing_rows, settings) -> None:
    reference = housing_rows.sample(5000, random_state=0).reset_index(drop=True)
    reference[[LOW, HIGH]] = np.nan  # a model version that recorded no intervals
    current = _window(housing_rows, 500)
    current[[LOW, HIGH]] = np.nan
    _, verdict = _verdict(current, reference, settings)
    assert verdict.status is Status.HEALTHY
    assert "coverage" not in {c.name for c in verdict.performance.checks}


def test_tiny_window_is_insufficient_for_drift(housing_rows, reference, settings) -> None:
    current = _window(housing_rows, 0).head(20)
    _, verdict = _verdict(current, reference, settings)
    assert verdict.drift_check is Status.INSUFFICIENT_DATA
    assert verdict.status is Status.INSUFFICIENT_DATA


def test_empty_column_is_skipped_not_fatal(housing_rows, reference, settings) -> None:
    current = _window(housing_rows, 500)
    current["total_bedrooms"] = np.nan
    analysis, verdict = _verdict(current, reference, settings)
    assert analysis.drift.skipped_columns == ["total_bedrooms"]
    assert "total_bedrooms" not in {c.column for c in analysis.drift.columns}
    assert any("total_bedrooms missing in 100.0% of rows" in r for r in verdict.reasons)


def test_drift_direction_depends_on_the_method() -> None:
    assert is_drifted("ks", 0.01, 0.05) and not is_drifted("ks", 0.5, 0.05)
    assert is_drifted("wasserstein", 0.2, 0.1) and not is_drifted("wasserstein", 0.05, 0.1)
