"""Turning measurements into one verdict and an exit code that automation can act on.

Two checks are judged separately -- drift (needs ``drift.min_rows`` rows) and performance (needs
``performance.min_labels`` true prices) -- so a window with too few labels still gets its drift
checked. The overall verdict is the most serious outcome: ``degraded`` over ``drift``; ``healthy``
only when both checks ran and passed; otherwise ``insufficient_data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from housing import exit_codes
from housing.config import Settings
from monitoring.analysis import Analysis


class Status(StrEnum):
    HEALTHY = "healthy"
    DRIFT = "drift"
    DEGRADED = "degraded"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class Baseline:
    """The holdout figures of the model version under watch (None when unknown)."""

    rmse: float | None = None
    mae: float | None = None


@dataclass
class Verdict:
    status: Status
    drift_check: Status
    performance_check: Status
    reasons: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """3 means "retrain recommended"; healthy and insufficient data are both 0."""
        retrain = self.status in (Status.DRIFT, Status.DEGRADED)
        return exit_codes.RETRAIN if retrain else exit_codes.HEALTHY


def judge_drift(analysis: Analysis | None, rows: int, settings: Settings) -> tuple[Status, list]:
    rules = settings.monitoring.drift
    if analysis is None or rows < rules.min_rows:
        return Status.INSUFFICIENT_DATA, [
            f"drift not judged: {rows} rows in the window, at least {rules.min_rows} needed"
        ]
    reasons = []
    drifted = [c.column for c in analysis.feature_drift if c.drifted]
    share = analysis.drift_share
    if share >= rules.share_threshold:
        reasons.append(
            f"{len(drifted)} of {len(analysis.feature_drift)} features drifted "
            f"(share {share:.2f} >= {rules.share_threshold:.2f}): {', '.join(drifted)}"
        )
    prediction = analysis.prediction_drift
    if rules.include_prediction and prediction is not None and prediction.drifted:
        reasons.append(
            f"predicted price drifted ({prediction.method} {prediction.score:.3f}, "
            f"threshold {prediction.threshold:g})"
        )
    if reasons:
        return Status.DRIFT, reasons
    return Status.HEALTHY, [f"drift share {share:.2f} below {rules.share_threshold:.2f}"]


def judge_performance(
    analysis: Analysis | None, labelled: int, baseline: Baseline, settings: Settings
) -> tuple[Status, list]:
    rules = settings.monitoring.performance
    performance = analysis.performance if analysis else None
    if performance is None or labelled < rules.min_labels:
        return Status.INSUFFICIENT_DATA, [
            f"performance not judged: {labelled} labelled rows, at least {rules.min_labels} needed"
        ]
    reasons = []
    if baseline.rmse is not None:
        limit = baseline.rmse * (1 + rules.rmse_margin)
        if performance.rmse > limit:
            reasons.append(
                f"live RMSE {performance.rmse:,.0f} above holdout {baseline.rmse:,.0f} "
                f"by more than {rules.rmse_margin:.0%} (limit {limit:,.0f})"
            )
    if performance.coverage is not None and performance.coverage < rules.coverage_floor:
        reasons.append(
            f"interval coverage {performance.coverage:.1%} below floor {rules.coverage_floor:.0%}"
        )
    if reasons:
        return Status.DEGRADED, reasons
    ok = [f"live RMSE {performance.rmse:,.0f} on {labelled} labelled rows"]
    if baseline.rmse is None:
        ok.append("no holdout baseline recorded for this model version: RMSE rule skipped")
    return Status.HEALTHY, ok


def decide(
    analysis: Analysis | None, rows: int, labelled: int, baseline: Baseline, settings: Settings
) -> Verdict:
    drift, drift_reasons = judge_drift(analysis, rows, settings)
    performance, perf_reasons = judge_performance(analysis, labelled, baseline, settings)
    if performance is Status.DEGRADED:
        status = Status.DEGRADED
    elif drift is Status.DRIFT:
        status = Status.DRIFT
    elif drift is Status.HEALTHY and performance is Status.HEALTHY:
        status = Status.HEALTHY
    else:
        status = Status.INSUFFICIENT_DATA
    return Verdict(status, drift, performance, [*drift_reasons, *perf_reasons])
