"""The JSON summary of a run: what a person or a pipeline reads first, before the HTML report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from housing.config import Settings
from monitoring.analysis import Analysis
from monitoring.verdict import Baseline, Verdict
from monitoring.window import CREATED, LogWindow, Window


@dataclass(frozen=True)
class RunFacts:
    """Everything the summary states besides the analysis itself."""

    run_id: str
    finished_at: datetime
    window: Window
    log: LogWindow
    model_version: str | None
    analysed_rows: int
    labelled: int
    baseline: Baseline
    trigger: str


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else value.isoformat()


def build_summary(
    facts: RunFacts, analysis: Analysis | None, verdict: Verdict, settings: Settings
) -> dict[str, Any]:
    frame = facts.log.frame
    drift_rules = settings.monitoring.drift
    columns = analysis.columns if analysis else []
    prediction = analysis.prediction_drift if analysis else None
    performance = analysis.performance if analysis else None
    return {
        "run_id": facts.run_id,
        "finished_at": facts.finished_at.isoformat(),
        "trigger": facts.trigger,
        "window": {
            "description": facts.window.describe(),
            "since": _iso(facts.window.since),
            "until": _iso(facts.window.until),
            "last_n": facts.window.last_n,
            "first_prediction_at": _iso(frame[CREATED].min()) if len(frame) else None,
            "last_prediction_at": _iso(frame[CREATED].max()) if len(frame) else None,
        },
        "model_version": facts.model_version,
        "rows": {
            "read": facts.log.total_rows,
            "analysed": facts.analysed_rows,
            "unreadable": facts.log.unreadable_rows,
            "sampled_from": facts.log.sampled_from,
        },
        "labelled": facts.labelled,
        "invalid_feedback": facts.log.invalid_feedback,
        "drift": {
            "status": verdict.drift_check.value,
            "method": {"numeric": drift_rules.num_method, "category": drift_rules.cat_method},
            "share": _number(analysis.drift_share) if analysis else None,
            "share_threshold": drift_rules.share_threshold,
            "drifted_features": {
                c.column: _number(c.score) for c in analysis.feature_drift if c.drifted
            }
            if analysis
            else {},
            "columns": {
                c.column: {
                    "method": c.method,
                    "threshold": c.threshold,
                    "score": _number(c.score),
                    "drifted": c.drifted,
                }
                for c in columns
            },
            "prediction_drifted": prediction.drifted if prediction else None,
            "skipped_columns": analysis.skipped_columns if analysis else [],
        },
        "performance": {
            "status": verdict.performance_check.value,
            "min_labels": settings.monitoring.performance.min_labels,
            "rmse": _number(performance.rmse) if performance else None,
            "mae": _number(performance.mae) if performance else None,
            "mape_percent": _number(performance.mape) if performance else None,
            "bias": _number(performance.bias) if performance else None,
            "coverage": _number(performance.coverage) if performance else None,
            "coverage_level": settings.intervals.coverage,
            "coverage_floor": settings.monitoring.performance.coverage_floor,
            "baseline_rmse": _number(facts.baseline.rmse),
            "baseline_mae": _number(facts.baseline.mae),
        },
        "verdict": verdict.status.value,
        "exit_code": verdict.exit_code,
        "reasons": verdict.reasons,
        "notes": facts.log.notes,
    }
