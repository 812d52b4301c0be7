"""Prediction intervals calibrated on the cross-validation's out-of-fold residuals (CV+ style).

No rows are kept out of the fit to calibrate: the K-fold CV that estimates accuracy already
predicts every training row with a model that did not see it, so its log residuals are honest
nonconformity scores. The served model is then fitted on the whole training part and the
scores' conformal quantile (finite-sample rank) sets the width, as in CV+/cross-conformal
prediction.

Width adapts to the house with a normalised score: an error model (gradient boosting on the
price model's features) predicts the absolute log error, and the score is
``|residual| / sigma(x)``. The error model's own out-of-fold estimates are used for the scores
(cross-fitted on the same folds), so no score is computed with an error model that saw it.
Optionally (``intervals.mondrian``) each group gets its own quantile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from housing.config import GroupSpec, Settings
from housing.pricing import Grouping, PricingModel, conformal_quantile


def grouping_of(spec: GroupSpec, train: pd.DataFrame) -> Grouping:
    """Category groups as they are; numeric groups as quantile bins of the training rows."""
    if spec.quantiles is None:
        return Grouping(spec.column)
    values = pd.to_numeric(train[spec.column], errors="coerce").dropna().to_numpy(dtype=float)
    inner = np.linspace(0.0, 1.0, spec.quantiles + 1)[1:-1]
    edges = np.unique(np.quantile(values, inner))
    return Grouping(spec.column, tuple(float(edge) for edge in edges))


def _error_model(
    settings: Settings, categorical: list[bool] | None
) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        categorical_features=categorical if categorical and any(categorical) else None,
        **settings.intervals.error_model,
    )


def calibrate(
    settings: Settings,
    pipeline: Any,
    train: pd.DataFrame,
    *,
    residuals: np.ndarray,
    design: np.ndarray,
    folds: list[np.ndarray],
    categorical: list[bool] | None,
) -> PricingModel:
    """The served :class:`PricingModel`: ``pipeline`` (fitted on all of ``train``) + intervals.

    ``residuals`` are out-of-fold log residuals aligned with ``train``; ``design`` the matching
    out-of-fold feature rows (each transformed by its fold's pipeline); ``folds`` the test
    positions of each fold.
    """
    intervals = settings.intervals
    coverage = intervals.coverage
    errors = np.abs(residuals)
    error_model = None
    floor = 0.0
    scale = np.ones(len(errors))
    if intervals.method == "normalized":
        for test in folds:
            fit = np.setdiff1d(np.arange(len(errors)), test)
            model = _error_model(settings, categorical).fit(design[fit], errors[fit])
            scale[test] = model.predict(design[test])
        floor = float(np.quantile(scale, intervals.error_floor_quantile))
        scale = np.maximum(scale, floor)
        error_model = _error_model(settings, categorical).fit(design, errors)
    scores = errors / scale
    pooled = conformal_quantile(scores, coverage)
    mondrian = None
    group_halfwidths: dict[str, float] = {}
    if intervals.mondrian is not None:
        mondrian = grouping_of(intervals.mondrian, train)
        labels = mondrian.labels(train)
        for label in np.unique(labels):
            inside = labels == label
            if inside.sum() >= intervals.mondrian_min_rows:
                group_halfwidths[str(label)] = conformal_quantile(scores[inside], coverage)
    return PricingModel(
        pipeline=pipeline,
        feature_names=tuple(settings.feature_names),
        log_halfwidth=pooled,
        coverage=coverage,
        metadata={"calibration_rows": len(errors), "fit_rows": len(train)},
        error_model=error_model,
        error_floor=floor,
        mondrian=mondrian,
        group_halfwidths=group_halfwidths,
    )


def conditional_coverage(
    settings: Settings, pricing: PricingModel, frame: pd.DataFrame, train: pd.DataFrame
) -> dict[str, dict[str, dict[str, float]]]:
    """``{column: {group: {rows, coverage, mean_interval_width}}}`` on ``frame`` (the holdout).

    Numeric groups are the training quantile bins, named ``Q1``..``Qn``.
    """
    estimates = pricing.predict(frame)
    actual = frame[settings.dataset.target].to_numpy(dtype=float)
    inside = (actual >= estimates.low) & (actual <= estimates.high)
    width = estimates.high - estimates.low
    report: dict[str, dict[str, dict[str, float]]] = {}
    for spec in settings.intervals.groups:
        labels = grouping_of(spec, train).labels(frame)
        report[spec.column] = {
            str(label): {
                "rows": int((labels == label).sum()),
                "coverage": float(inside[labels == label].mean()),
                "mean_interval_width": float(width[labels == label].mean()),
            }
            for label in sorted(np.unique(labels))
        }
    return report


def coverage_metrics(report: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """Flat MLflow metric names: ``holdout_coverage.<column>.<group>`` and width alike."""
    metrics: dict[str, float] = {}
    for column, groups in report.items():
        for label, values in groups.items():
            key = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in label)
            metrics[f"holdout_coverage.{column}.{key}"] = values["coverage"]
            metrics[f"holdout_mean_interval_width.{column}.{key}"] = values["mean_interval_width"]
    return metrics
