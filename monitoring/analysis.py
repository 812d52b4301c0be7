"""The Evidently report of one window against the training reference, and the numbers we judge.

Drift is measured by Evidently with the methods fixed in ``monitoring.drift`` (never Evidently's
sample-size rule, under which the meaning of a score flips at 1000 reference rows). Performance
figures are computed here from the labelled rows with plain numpy so their definitions are ours
and documented: RMSE, MAE, MAPE (%), bias = mean(predicted - actual), and the live coverage of
the prediction intervals.
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
class Performance:
    labelled: int
    rmse: float
    mae: float
    mape: float
    bias: float
    coverage: float | None


@dataclass
class Analysis:
    """What one run measured; ``snapshot`` is the Evidently result (HTML, workspace, MLflow)."""

    snapshot: Any
    columns: list[ColumnDrift]
    performance: Performance | None
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


def performance_of(frame: pd.DataFrame) -> Performance:
    """Error figures on the rows of ``frame`` that carry a true price."""
    labelled = frame[frame[ACTUAL].notna() & frame[PREDICTION].notna()]
    actual = labelled[ACTUAL].to_numpy(dtype=float)
    predicted = labelled[PREDICTION].to_numpy(dtype=float)
    error = predicted - actual
    coverage = None
    if LOW in labelled and HIGH in labelled and labelled[LOW].notna().all():
        inside = (labelled[LOW] <= labelled[ACTUAL]) & (labelled[ACTUAL] <= labelled[HIGH])
        coverage = float(inside.mean()) if len(labelled) else None
    if not len(labelled):
        return Performance(0, float("nan"), float("nan"), float("nan"), float("nan"), None)
    return Performance(
        labelled=len(labelled),
        rmse=float(np.sqrt(np.mean(error**2))),
        mae=float(np.mean(np.abs(error))),
        mape=float(np.mean(np.abs(error) / actual) * 100.0),
        bias=float(np.mean(error)),
        coverage=coverage,
    )


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

    ``reference`` holds the features, ``actual_price`` and ``prediction``. Columns that are
    entirely empty on either side cannot be compared and are listed in ``skipped_columns``.
    """
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset, RegressionPreset

    drift = settings.monitoring.drift
    features = settings.dataset.features
    compared = [PREDICTION, *features]
    skipped = [c for c in compared if current[c].isna().all() or reference[c].isna().all()]
    compared = [c for c in compared if c not in skipped]
    numeric = [n for n, s in features.items() if s.type != "category" and n not in skipped]
    performance = None
    min_labels = settings.monitoring.performance.min_labels
    labelled = int((current[ACTUAL].notna() & current[PREDICTION].notna()).sum())
    with_regression = labelled >= min_labels
    if with_regression:
        performance = performance_of(current)
    columns = [*features, PREDICTION, *([ACTUAL] if with_regression else [])]
    definition = _data_definition(settings, numeric, with_regression)
    presets: list[Any] = [
        DataDriftPreset(
            columns=compared,
            num_method=drift.num_method,
            num_threshold=drift.num_threshold,
            cat_method=drift.cat_method,
            cat_threshold=drift.cat_threshold,
            drift_share=drift.share_threshold,
        )
    ]
    if with_regression:
        presets.append(RegressionPreset())
    report = Report(presets)
    snapshot = report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    return Analysis(
        snapshot=snapshot,
        columns=column_drift(snapshot),
        performance=performance,
        skipped_columns=skipped,
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
