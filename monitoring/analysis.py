"""The measurements of one window against the reference of the model version that served it.

Drift is measured by Evidently with the methods fixed in ``monitoring.drift`` (never Evidently's
sample-size rule, under which the meaning of a score flips at 1000 reference rows). The drift
preset covers the configured features only, so Evidently's own "N of M columns drifted" header
counts the same features as our share rule; the predicted price gets its own ValueDrift metric.
Column quality (missing share, most frequent value) and the error samples that performance is
judged on are measured here with plain pandas/numpy, so their definitions are ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from housing.config import P_VALUE_DRIFT_METHODS, Settings
from monitoring.window import ACTUAL, HIGH, LOW, PREDICTION


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    threshold: float
    score: float
    drifted: bool


@dataclass(frozen=True)
class ColumnQuality:
    """Missing share and the share of the most frequent value, in the window and reference."""

    column: str
    rows: int
    reference_rows: int
    missing: float
    reference_missing: float
    top_share: float
    reference_top_share: float


@dataclass(frozen=True)
class ErrorSample:
    """Per labelled row: log(predicted / actual), dollar error, and whether the interval held.

    The log error is the scale-free figure performance is judged on: a house twice as dear
    with twice the dollar error has the same log error.
    """

    log_error: np.ndarray
    dollar_error: np.ndarray
    actual: np.ndarray
    covered: np.ndarray | None

    def __len__(self) -> int:
        return len(self.log_error)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> ErrorSample:
        labelled = frame[frame[ACTUAL].notna() & frame[PREDICTION].notna()]
        actual = np.maximum(labelled[ACTUAL].to_numpy(dtype=float), 1e-6)
        predicted = np.maximum(labelled[PREDICTION].to_numpy(dtype=float), 1e-6)
        covered = None
        if LOW in labelled and HIGH in labelled and labelled[[LOW, HIGH]].notna().all().all():
            covered = (labelled[LOW].to_numpy() <= actual) & (actual <= labelled[HIGH].to_numpy())
        return cls(
            log_error=np.log(predicted) - np.log(actual),
            dollar_error=predicted - actual,
            actual=actual,
            covered=covered,
        )


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


def is_drifted(method: str, score: float, threshold: float) -> bool:
    """p-value methods drift below the threshold, distances at or above it."""
    if method in P_VALUE_DRIFT_METHODS:
        return score < threshold
    return score >= threshold


def _top_share(values: pd.Series) -> float:
    present = values.dropna()
    return float(present.value_counts(normalize=True).iloc[0]) if len(present) else 0.0


def column_quality(
    current: pd.DataFrame, reference: pd.DataFrame, columns: list[str]
) -> list[ColumnQuality]:
    return [
        ColumnQuality(
            column=column,
            rows=len(current),
            reference_rows=len(reference),
            missing=float(current[column].isna().mean()) if len(current) else 0.0,
            reference_missing=float(reference[column].isna().mean()) if len(reference) else 0.0,
            top_share=_top_share(current[column]),
            reference_top_share=_top_share(reference[column]),
        )
        for column in columns
    ]


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
