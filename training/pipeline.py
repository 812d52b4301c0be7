"""The model itself: pipeline, splits, cross-validation, fitting and metrics.

Everything here is a pure function of (settings, frames, weights), with no MLflow, BentoML or
console, so training and retraining share it and tests can call it directly. Every random choice
is seeded from ``split.seed`` / ``model.params.random_state``: the same configuration and data
give the same splits, the same model and the same metrics.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from housing.config import Settings
from housing.features import HousingFeatures, features_from_config
from housing.pricing import PricingModel, log_residuals
from training.estimators import recipe_of
from training.intervals import calibrate

# ----------------------------------------------------------------------------- pipeline


def _steps(settings: Settings, features: HousingFeatures) -> list[tuple[str, Any]]:
    """Steps after feature building: imputation/encoding suited to the estimator, then it."""
    params = dict(settings.model.params)
    recipe = recipe_of(settings.model.estimator)
    if recipe.native_categories:
        return [("model", recipe.build(params, features))]
    n_categorical = len(features.categories or {})
    n_numeric = len(features.get_feature_names_out()) - n_categorical
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if recipe.scale:
        numeric_steps.append(("scale", StandardScaler()))
    encode = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), list(range(n_numeric))),
            (  # a missing/unknown category (NaN code) gets its own indicator column
                "category",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(range(n_numeric, n_numeric + n_categorical)),
            ),
        ]
    )
    return [("encode", encode), ("model", recipe.build(params, features))]


def build_pipeline(settings: Settings) -> Pipeline:
    """An unfitted pipeline: raw records in, price out. Preprocessing lives inside it.

    Shape: ``features`` (:class:`HousingFeatures`) -> [``encode``] -> ``model``. With
    ``model.log_target`` the ``model`` step is a ``TransformedTargetRegressor`` (fit on log
    price). Sample weights go to ``model__sample_weight`` (see :func:`weight_params`).
    """
    features = features_from_config(settings.dataset.features, settings.feature_engineering)
    steps = _steps(settings, features)
    name, estimator = steps[-1]
    if settings.model.log_target:
        estimator = TransformedTargetRegressor(
            regressor=estimator, func=np.log, inverse_func=np.exp
        )
    return Pipeline([("features", features), *steps[:-1], (name, estimator)])


def weight_params(sample_weight: np.ndarray | None) -> dict[str, Any]:
    """Fit keyword arguments that route sample weights to the final estimator."""
    if sample_weight is None:
        return {}
    return {"model__sample_weight": np.asarray(sample_weight, dtype=float)}


# ----------------------------------------------------------------------------- splits


def strata(frame: pd.DataFrame, settings: Settings) -> np.ndarray | None:
    """Bin labels of the stratification column, or None when not configured / not possible.

    Bins with fewer than two rows cannot be split proportionally; such rows join the
    neighbouring bin so small data sets (or unusual retraining frames) still split.
    """
    stratify = settings.split.stratify
    if stratify is None:
        return None
    labels = pd.cut(frame[stratify.column], stratify.bins, labels=False, include_lowest=True)
    labels = labels.fillna(-1).astype(int).to_numpy()
    counts = pd.Series(labels).value_counts()
    for label in sorted(counts.index):
        if counts[label] < 2:
            others = [other for other in counts.index if other != label and counts[other] >= 2]
            if not others:
                return None
            nearest = min(others, key=lambda other: abs(other - label))
            labels[labels == label] = nearest
    return labels


def split_holdout(frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): the fixed holdout every model version is compared on."""
    train, holdout = train_test_split(
        frame,
        test_size=settings.split.holdout_fraction,
        random_state=settings.split.seed,
        stratify=strata(frame, settings),
    )
    return train, holdout


# ----------------------------------------------------------------------------- metrics


def point_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(root_mean_squared_error(actual, predicted)),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)),
        "mape": float(mean_absolute_percentage_error(actual, predicted)),
    }


def evaluate(pricing: PricingModel, frame: pd.DataFrame, target: str) -> dict[str, float]:
    """RMSE, MAE, R2, MAPE plus the interval's empirical coverage and mean width (USD)."""
    estimates = pricing.predict(frame)
    actual = frame[target].to_numpy(dtype=float)
    metrics = point_metrics(actual, estimates.price)
    inside = (actual >= estimates.low) & (actual <= estimates.high)
    metrics["coverage"] = float(np.mean(inside))
    metrics["mean_interval_width"] = float(np.mean(estimates.high - estimates.low))
    return metrics


@dataclass(frozen=True)
class CrossValidation:
    """K-fold CV of the configured pipeline: metrics and what each fold saw out of fold.

    ``residuals`` (log actual - log predicted) and ``design`` (the fold pipeline's transformed
    features) are aligned with the training rows; ``folds`` holds each fold's test positions.
    They calibrate the intervals, so no training row is held out of the served model.
    """

    metrics: dict[str, float]
    residuals: np.ndarray
    design: np.ndarray
    folds: list[np.ndarray]


def cross_validation(
    settings: Settings, train: pd.DataFrame, sample_weight: np.ndarray | None = None
) -> CrossValidation:
    """K-fold CV on ``train``: ``{metric}_mean``/``_std`` plus out-of-fold residuals."""
    scoring = {
        "rmse": "neg_root_mean_squared_error",
        "mae": "neg_mean_absolute_error",
        "r2": "r2",
        "mape": "neg_mean_absolute_percentage_error",
    }
    folds = KFold(n_splits=settings.split.cv_folds, shuffle=True, random_state=settings.split.seed)
    rows = train[settings.feature_names]
    actual = train[settings.dataset.target].to_numpy(dtype=float)
    result = cross_validate(
        build_pipeline(settings),
        rows,
        train[settings.dataset.target],
        cv=folds,
        scoring=scoring,
        n_jobs=settings.split.cv_jobs if settings.split.cv_jobs > 1 else None,
        params=weight_params(sample_weight),
        return_estimator=True,
        return_indices=True,
    )
    metrics: dict[str, float] = {}
    for name in scoring:
        scores = np.asarray(result[f"test_{name}"], dtype=float)
        if name != "r2":
            scores = -scores
        metrics[f"{name}_mean"] = float(scores.mean())
        metrics[f"{name}_std"] = float(scores.std())
    residuals = np.zeros(len(train))
    design: np.ndarray | None = None
    tests = [np.asarray(test) for test in result["indices"]["test"]]
    for fitted, test in zip(result["estimator"], tests, strict=True):
        transformed = fitted[:-1].transform(rows.iloc[test])
        if design is None:
            design = np.empty((len(train), transformed.shape[1]))
        design[test] = transformed
        residuals[test] = log_residuals(actual[test], fitted[-1].predict(transformed))
    assert design is not None
    return CrossValidation(metrics=metrics, residuals=residuals, design=design, folds=tests)


# ----------------------------------------------------------------------------- fitting


def categorical_columns(pipeline: Pipeline) -> list[bool] | None:
    """Which transformed columns are category codes (None when an encoder one-hots them)."""
    if "encode" in pipeline.named_steps:
        return None
    return pipeline.named_steps["features"].categorical_mask()


def fit_pipeline(
    settings: Settings, train: pd.DataFrame, sample_weight: np.ndarray | None = None
) -> Pipeline:
    """The served pipeline, fitted on all of ``train`` with ``model.threads`` OpenMP threads.

    The thread limit is set here, not only by the caller, because OpenMP's thread count is per
    calling thread: :func:`cross_validate_and_fit` runs this in a thread of its own.
    """
    pipeline = build_pipeline(settings)
    with threadpool_limits(settings.model.threads):
        pipeline.fit(
            train[settings.feature_names],
            train[settings.dataset.target],
            **weight_params(sample_weight),
        )
    return pipeline


def cross_validate_and_fit(
    settings: Settings, train: pd.DataFrame, sample_weight: np.ndarray | None = None
) -> tuple[CrossValidation, Pipeline]:
    """:func:`cross_validation` and :func:`fit_pipeline` at the same time.

    The served fit does not depend on the CV, so it runs in a thread while the folds run in
    ``split.cv_jobs`` processes: with 5 folds on 2 processes the last round had one idle core
    and the served fit came after it, 4 rounds of fits; now the work can pack into 3 on an
    otherwise idle machine. Measured only on a busy one (load average 17-24 on 2 cores):
    174 s vs 179 s, within noise. The fits are the same as one after the other, so metrics
    and predictions are identical (checked: every holdout metric and price bit for bit).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        served = pool.submit(fit_pipeline, settings, train, sample_weight)
        cross = cross_validation(settings, train, sample_weight)
        return cross, served.result()


def fit_pricing_model(
    settings: Settings,
    train: pd.DataFrame,
    cv: CrossValidation,
    sample_weight: np.ndarray | None = None,
    pipeline: Pipeline | None = None,
) -> PricingModel:
    """Fit on all of ``train``; calibrate the interval on the CV's out-of-fold residuals.

    ``sample_weight`` (aligned with ``train``) weights rows in the fit, e.g. production rows
    during retraining; calibration is unweighted so the interval keeps its coverage meaning.
    ``pipeline``: already fitted by :func:`fit_pipeline` (see :func:`cross_validate_and_fit`).
    """
    if pipeline is None:
        pipeline = fit_pipeline(settings, train, sample_weight)
    return calibrate(
        settings,
        pipeline,
        train,
        residuals=cv.residuals,
        design=cv.design,
        folds=cv.folds,
        categorical=categorical_columns(pipeline),
    )


def reference_sample(
    settings: Settings, pricing: PricingModel, frames: list[pd.DataFrame]
) -> pd.DataFrame:
    """The monitor's reference: rows the model never fitted on, with its predictions.

    Holdout rows (so the reference's errors are honest, not training fit),
    sampled down to ``monitoring.reference_rows`` with ``monitoring.seed``. Columns: features,
    the target, ``prediction``, ``price_low``, ``price_high``.
    """
    pool = pd.concat(frames)
    size = min(settings.monitoring.reference_rows, len(pool))
    sample = pool.sample(n=size, random_state=settings.monitoring.seed).sort_index()
    estimates = pricing.predict(sample)
    columns = [*settings.feature_names, settings.dataset.target]
    reference = sample[columns].reset_index(drop=True).copy()
    reference["prediction"] = estimates.price
    reference["price_low"] = estimates.low
    reference["price_high"] = estimates.high
    return reference
