"""``model``, ``intervals``, ``tuning`` and ``promotion``: the estimator, its conformal
intervals, the hyperparameter search and the gate a challenger must pass.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from housing.config.base import Fraction, PositiveFloat, PositiveInt, Section


class ModelConfig(Section):
    """The estimator that prices a house, and how it is fitted."""

    estimator: Literal["hist_gradient_boosting", "random_forest", "ridge"] = Field(
        default="hist_gradient_boosting",
        description="the scikit-learn regressor: HistGradientBoostingRegressor, "
        "RandomForestRegressor or Ridge",
    )
    params: dict[str, Any] = Field(
        default={},
        description="keyword arguments of the estimator (e.g. learning_rate, max_iter); "
        "`housing tune` proposes values for them",
    )
    log_target: bool = Field(default=True, description="fit on log(price); prices are skewed")
    threads: PositiveInt = Field(
        default=1,
        description="OpenMP/BLAS threads of one fit; CV runs split.cv_jobs fits in parallel",
    )


class GroupSpec(Section):
    """A grouping of the houses by one feature: its categories, or quantiles of a number."""

    column: str = Field(description="the feature that groups the houses")
    quantiles: int | None = Field(
        default=None,
        ge=2,
        description="numeric column: groups are this many training quantiles (e.g. 5 quintiles)",
    )


class IntervalConfig(Section):
    """The conformal prediction interval returned with every price."""

    coverage: Fraction = Field(
        default=0.9,
        description="share of true prices the interval should contain (conformal, calibrated "
        "on the CV's out-of-fold residuals); higher gives wider intervals",
    )
    method: Literal["absolute", "normalized"] = Field(
        default="normalized",
        description=(
            "absolute: one multiplicative width for every house; normalized: the width scales"
            " with an error model's estimate of each house's log error"
        ),
    )
    error_model: dict[str, Any] = Field(
        default={}, description="HistGradientBoostingRegressor params of the error model"
    )
    error_floor_quantile: Fraction = Field(
        default=0.01, description="the error estimate never goes below this training quantile"
    )
    mondrian: GroupSpec | None = Field(
        default=None, description="calibrate each group of this column separately"
    )
    mondrian_min_rows: PositiveInt = Field(
        default=200, description="smaller groups use the pooled calibration"
    )
    groups: list[GroupSpec] = Field(
        default=[], description="coverage and width are reported per group of these columns"
    )


class SearchDimension(Section):
    """One hyper-parameter of ``housing tune``: a numeric range or a list of choices."""

    type: Literal["float", "int", "choice"] = Field(
        description="float or int: a range from low to high; choice: one of `choices`"
    )
    low: float | None = Field(
        default=None, description="smallest value tried (float and int; whole for int)"
    )
    high: float | None = Field(
        default=None, description="largest value tried (float and int; whole for int)"
    )
    log: bool = Field(default=False, description="sample on a log scale (rates, sizes)")
    choices: list[Any] | None = Field(default=None, description="the values tried (choice only)")

    @model_validator(mode="after")
    def _consistent(self) -> SearchDimension:
        if self.type == "choice":
            if not self.choices or self.low is not None or self.high is not None:
                raise ValueError("a 'choice' dimension needs 'choices' and no 'low'/'high'")
            return self
        if self.choices is not None or self.low is None or self.high is None:
            raise ValueError(f"a '{self.type}' dimension needs 'low' and 'high' (no 'choices')")
        if self.low >= self.high:
            raise ValueError(f"'low' ({self.low:g}) must be smaller than 'high' ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError("a 'log' dimension needs 'low' > 0")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an 'int' dimension needs whole 'low' and 'high'")
        return self


class TuningConfig(Section):
    """``housing tune``: a bounded search of ``model.params`` judged by CV on the training part."""

    trials: PositiveInt = Field(default=30, description="most trials one search runs")
    timeout_s: PositiveFloat | None = Field(
        default=3600.0, description="no new trial starts after this many seconds (null: no limit)"
    )
    cv_folds: int | None = Field(
        default=None, ge=2, description="folds of each trial's CV (null: split.cv_folds)"
    )
    metric: Literal["rmse", "mae"] = Field(
        default="rmse", description="the CV mean this search minimises"
    )
    seed: int = Field(default=42, description="seed of the sampler (TPE)")
    space: dict[str, SearchDimension] = Field(
        default={}, description="model.params key -> its range; other params stay as configured"
    )


class PromotionConfig(Section):
    """The gate a newly trained challenger must pass on the holdout to become champion."""

    metric: Literal["rmse", "mae"] = Field(
        default="rmse",
        description="holdout error the challenger and champion are compared on (lower wins)",
    )
    tolerance: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "relative slack: promote when challenger < champion * (1 + tolerance); with 0 an"
            " equally good model is not promoted"
        ),
    )
