"""The measurements of one window against the reference of the model version that served it.

This module runs one Evidently report and gathers the window's figures; each family of figures
is defined beside its rules: drift of the whole window in :mod:`monitoring.drift` (which
Evidently metrics, the scores read back), per column in :mod:`monitoring.columns` (missing
share, most frequent value: plain pandas, so their definitions are ours), the error samples in
:mod:`monitoring.performance` (Evidently's RegressionPreset is for the report only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from housing.config import Settings
from monitoring.columns import column_quality
from monitoring.drift import DriftFigures, drift_metrics
from monitoring.performance import ErrorSample
from monitoring.window import ACTUAL, PREDICTION


@dataclass
class Analysis:
    """What one run measured; ``snapshot`` is the Evidently result (HTML, workspace)."""

    snapshot: Any
    drift: DriftFigures
    errors: ErrorSample
    reference_errors: ErrorSample


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
    be compared and are listed in ``drift.skipped_columns``.
    """
    from evidently import Dataset, Report
    from evidently.presets import RegressionPreset

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
    metrics = drift_metrics(settings, compared, with_prediction=PREDICTION not in empty)
    if with_regression:
        metrics.append(RegressionPreset())
    snapshot = Report(metrics).run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    quality = column_quality(current, reference, features)
    return Analysis(
        snapshot=snapshot,
        drift=DriftFigures.read(snapshot, quality, empty),
        errors=errors,
        reference_errors=ErrorSample.of(reference),
    )
