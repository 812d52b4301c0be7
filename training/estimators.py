"""Which estimator a configured name builds, and how its inputs must be encoded.

The one place to add an estimator: a recipe here and its name in ``model.estimator``'s choices
(``housing/config/model.py``), which validate ``configuration.yaml`` on load; a unit test keeps the
two lists equal. ``training/pipeline.py`` builds whatever recipe the name picks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge

from housing.config import ConfigError
from housing.features import HousingFeatures


@dataclass(frozen=True)
class EstimatorRecipe:
    """How to build one estimator from ``model.params`` and the fitted-feature layout.

    ``native_categories``: the estimator takes category codes and missing values as they are
    (no imputation or one-hot step); ``scale``: numeric columns are standardised first.
    """

    build: Callable[[dict[str, Any], HousingFeatures], Any]
    native_categories: bool = False
    scale: bool = False


ESTIMATORS: Mapping[str, EstimatorRecipe] = {
    # Native missing-value and categorical support: category codes stay one column each, an
    # unknown category (NaN code) follows the learned "missing" branch.
    "hist_gradient_boosting": EstimatorRecipe(
        lambda params, features: HistGradientBoostingRegressor(
            categorical_features=features.categorical_mask(), **params
        ),
        native_categories=True,
    ),
    "random_forest": EstimatorRecipe(lambda params, _features: RandomForestRegressor(**params)),
    "ridge": EstimatorRecipe(lambda params, _features: Ridge(**params), scale=True),
}


def recipe_of(name: str) -> EstimatorRecipe:
    """The recipe of ``name``; an unknown name is a configuration error naming the key."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        known = ", ".join(sorted(ESTIMATORS))
        raise ConfigError(f"model.estimator: unknown estimator '{name}' (one of {known})") from None
