"""Drift of a window against the reference, whole: which Evidently metrics measure it, the
figures read back from the snapshot, and the rules that make them reasons.

Evidently measures with the methods fixed in ``monitoring.drift`` (never its sample-size rule,
under which the meaning of a score flips at 1000 reference rows). The drift preset covers the
configured features only, so Evidently's own "N of M columns drifted" header counts the same
features as our share rule; the predicted price gets its own ValueDrift metric. The rules: the
share of drifted features, the predicted price, and the single-column checks of
:mod:`monitoring.columns`.

A new drift figure of the whole window lives here whole: its Evidently metric in
:func:`drift_metrics`, its value read into :class:`DriftFigures`, its rule in
:func:`judge_drift`; its setting is a field of ``DriftConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from housing.config import Settings
from housing.run_summary import ColumnDriftFigure, DriftSummary, Status
from monitoring.columns import ColumnDrift, ColumnQuality, column_checks, is_drifted
from monitoring.window import PREDICTION


def drift_metrics(settings: Settings, compared: list[str], with_prediction: bool) -> list[Any]:
    """The Evidently metrics that measure drift: the preset over the ``compared`` features and,
    ``with_prediction``, the predicted price's own ValueDrift."""
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    drift = settings.monitoring.drift
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
    if with_prediction:
        metrics.append(
            ValueDrift(column=PREDICTION, method=drift.num_method, threshold=drift.num_threshold)
        )
    return metrics


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


@dataclass
class DriftFigures:
    """What drift measured in one window: a score per compared column (features and the
    predicted price), the features' quality figures, and the columns too empty to compare."""

    columns: list[ColumnDrift]
    quality: list[ColumnQuality]
    skipped_columns: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, snapshot: Any, quality: list[ColumnQuality], skipped: list[str]) -> DriftFigures:
        return cls(column_drift(snapshot), quality, skipped)

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


def _figure(column: ColumnDrift) -> ColumnDriftFigure:
    return ColumnDriftFigure.model_validate(column, from_attributes=True)


def judge_drift(
    figures: DriftFigures | None, rows: int, settings: Settings
) -> tuple[DriftSummary, list[str]]:
    """The drift half of the verdict: its summary and its reasons (or why it passed)."""
    rules = settings.monitoring.drift
    base = {
        "num_method": rules.num_method,
        "cat_method": rules.cat_method,
        "share_threshold": rules.share_threshold,
        "skipped_columns": figures.skipped_columns if figures else [],
    }
    if figures is None or rows < rules.min_rows:
        return DriftSummary(status=Status.INSUFFICIENT_DATA, **base), [
            f"drift not judged: {rows} rows in the window, at least {rules.min_rows} needed"
        ]
    features = figures.feature_drift
    drifted = [c.column for c in features if c.drifted]
    share = figures.drift_share
    checks = column_checks(features, figures.quality, settings)
    reasons = []
    if share >= rules.share_threshold:
        reasons.append(
            f"{len(drifted)} of {len(features)} features drifted "
            f"(share {share:.2f} >= {rules.share_threshold:.2f}): {', '.join(drifted)}"
        )
    reasons.extend(c.text for c in checks if c.breached)
    prediction = figures.prediction_drift
    if rules.include_prediction and prediction is not None and prediction.drifted:
        reasons.append(
            f"predicted price drifted ({prediction.method} {prediction.score:.3f}, "
            f"threshold {prediction.threshold:g})"
        )
    summary = DriftSummary(
        status=Status.DRIFT if reasons else Status.HEALTHY,
        **base,
        share=share,
        features_compared=len(features),
        columns=[_figure(c) for c in features],
        prediction=_figure(prediction) if prediction else None,
        column_checks=checks,
    )
    if reasons:
        return summary, reasons
    return summary, [
        f"{len(drifted)} of {len(features)} features drifted (share {share:.2f} below "
        f"{rules.share_threshold:.2f}); no single-column fault"
    ]
