"""The shipped California configuration meets the accuracy and interval targets of the issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from housing.config import Settings
from tests.fixtures.training import make_settings
from training.data import load_training_data
from training.pipeline import split_holdout
from training.train import train_model

RMSE_TARGET_USD = 43_000
COVERAGE_SLACK = 0.02


@pytest.mark.slow
def test_full_model_meets_rmse_and_coverage_targets(tmp_path: Path, bentoml_home: Path) -> None:
    settings: Settings = make_settings(tmp_path, bentoml_home=bentoml_home, fast=False)
    data = load_training_data(settings)
    train, holdout = split_holdout(data.frame, settings)
    trained = train_model(settings, train, holdout, data_sha256=data.sha256)
    metrics = trained.metrics
    assert len(holdout) == round(len(data.frame) * settings.split.holdout_fraction)
    assert metrics["holdout_rmse"] <= RMSE_TARGET_USD
    assert abs(metrics["holdout_coverage"] - settings.intervals.coverage) <= COVERAGE_SLACK
    assert metrics["holdout_mean_interval_width"] > 0
    assert metrics["cv_rmse_mean"] <= RMSE_TARGET_USD * 1.1
