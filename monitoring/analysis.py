"""The measurements of one window against the reference of the model version that served it.

Drift is measured by Evidently with the methods fixed in ``monitoring.drift`` (never Evidently's
sample-size rule, under which the meaning of a score flips at 1000 reference rows). The drift
preset covers the configured features only, so Evidently's own "N of M columns drifted" header
counts the same features as our share rule; the predicted price gets its own ValueDrift metric.
This module runs the report and gathers one window's figures; each family of figures is
defined beside its rules: per column in :mod:`monitoring.columns` (drift score, missing share,
most frequent value: plain pandas, so their definitions are ours), the error samples in
:mod:`monitoring.performance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from housing.config import Settings
from monitoring.columns import ColumnDrift, ColumnQuality, column_quality, is_drifted
from monitoring.performance import ErrorSample
from monitoring.window import ACTUAL, PREDICTION


@dataclass
class Analysis:
    """What one run measured; ``snapshot`` is the Evidently result (HTML, workspace)."""

    snapshot: Any
    columns: list[ColumnDrift]
    quality: list[ColumnQuality]
    errors: ErrorSample
    reference_errors: ErrorSample
    skipped_columns: list[str] = field(default_factory=list)

    @property
    def feature_drift(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.column != PREDICTION]

    @property
    def drift_share(self) -> float:
        features = self.feature_drift
        return sum(c.drifted for c in features) / len(features) if features else 0.0

    @property
    def prediction_drift(self) -> ColumnDrift | None:
        return next((c for c in self.columns if c.column == PREDICTION), None)


def _data_definition(settings: Settings, numeric: list[str], regression: bool) -> Any:
    from evidently import DataDefinition, Regression

    categorical = [n for n, s in settings.dataset.features.items() if s.type == "category"]
    return DataDefinition(
        numerical_columns=[*numeric, PREDICTION, *([ACTUAL] if regression else [])],
        categorical_columns=categorical,
        regression=[Regression(target=ACTUAL, prediction=PREDICTION)] if regression else None,
    )


def analyse(current: pd.DataFrame, reference: pd.DataFrame, settings: Settings) -> Analysis:
    """Run the Evidently report for one model version's rows against that version's reference.

    ``reference`` holds the features, ``actual_price``, ``prediction`` and (when the model
    recorded them) the interval bounds. Columns that are entirely empty on either side cannot
    be compared and are listed in ``skipped_columns``.
    """
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset, RegressionPreset

    drift = settings.monitoring.drift
    features = list(settings.dataset.features)
    empty = [
        c for c in [PREDICTION, *features] if current[c].isna().all() or reference[c].isna().all()
    ]
    compared = [c for c in features if c not in empty]
    numeric = [
        n for n, s in settings.dataset.features.items() if s.type != "category" and n not in empty
    ]
    errors = ErrorSample.of(current)
    with_regression = len(errors) >= settings.monitoring.performance.min_labels_floor
    columns = [*features, PREDICTION, *([ACTUAL] if with_regression else [])]
    definition = _data_definition(settings, numeric, with_regression)
    metrics: list[Any] = [
        DataDriftPreset(
            columns=compared,
            num_method=drift.num_method,
            num_threshold=drift.num_threshold,
            cat_method=drift.cat_method,
            cat_threshold=drift.cat_threshold,
            drift_share=drift.share_threshold,
        )
    ]
    if PREDICTION not in empty:
        metrics.append(
            ValueDrift(column=PREDICTION, method=drift.num_method, threshold=drift.num_threshold)
        )
    if with_regression:
        metrics.append(RegressionPreset())
    snapshot = Report(metrics).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    return Analysis(
        snapshot=snapshot,
        columns=column_drift(snapshot),
        quality=column_quality(current, reference, features),
        errors=errors,
        reference_errors=ErrorSample.of(reference),
        skipped_columns=empty,
    )


def column_drift(snapshot: Any) -> list[ColumnDrift]:
    """Per-column scores from the snapshot's ValueDrift metrics, judged with our direction."""
    result = []
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift"):
            continue
        score = float(metric["value"])
        method, threshold = str(config["method"]), float(config["threshold"])
        result.append(
            ColumnDrift(
                column=config["column"],
                method=method,
                threshold=threshold,
                score=score,
                drifted=is_drifted(method, score, threshold),
            )
        )
    return result
