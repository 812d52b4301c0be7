"""Every configurable estimator name builds that estimator; no name silently becomes another."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from housing.config import ConfigError, ModelConfig, load_config
from training.estimators import ESTIMATORS, recipe_of
from training.pipeline import build_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_configurable_names_are_the_registry() -> None:
    choices = typing.get_args(ModelConfig.model_fields["estimator"].annotation)
    assert set(choices) == set(ESTIMATORS)


@pytest.mark.parametrize(
    ("name", "final"),
    [
        ("hist_gradient_boosting", "HistGradientBoostingRegressor"),
        ("random_forest", "RandomForestRegressor"),
        ("ridge", "Ridge"),
    ],
)
def test_each_name_builds_its_estimator(name: str, final: str) -> None:
    settings = load_config(ROOT / "configuration.yaml")
    model = settings.model.model_copy(update={"estimator": name, "params": {}})
    pipeline = build_pipeline(settings.model_copy(update={"model": model}))
    estimator = pipeline.named_steps["model"]
    estimator = getattr(estimator, "regressor", estimator)  # log_target wraps it
    assert type(estimator).__name__ == final


def test_unknown_name_is_a_configuration_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.estimator: unknown estimator 'xgboost'"):
        recipe_of("xgboost")
