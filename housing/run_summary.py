"""The typed summary of one monitor run: the one object every consumer reads.

The status table, MLflow tracking, the HTML outputs, the CLI table, the service gauges and the
dispatch script read these models (never string keys), and ``summary.json`` is their JSON
dump. A new judged figure is one field here plus its measurement and rule; the consumers that
list figures generically (:meth:`RunSummary.metrics`) pick it up without change.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

from housing import exit_codes


class Status(StrEnum):
    HEALTHY = "healthy"
    DRIFT = "drift"
    DEGRADED = "degraded"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def exit_code(self) -> int:
        """3 means "retrain recommended"; healthy and insufficient data are both 0."""
        retrain = self in (Status.DRIFT, Status.DEGRADED)
        return exit_codes.RETRAIN if retrain else exit_codes.HEALTHY


class Figures(BaseModel):
    """Base of the summary models: frozen, and non-finite floats stored as null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _finite(cls, value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value


class Check(Figures):
    """One judged figure: its value, the confidence interval around it, and the limit.

    ``breached`` is the rule's outcome; ``low``/``high`` bound the value with the confidence
    level the rule used (for a distance or share without an interval both equal ``value``).
    """

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    reference: float | None = None
    limit: float
    breached: bool
    text: str


class ColumnDriftFigure(Figures):
    column: str
    method: str
    threshold: float
    score: float | None
    drifted: bool


class DriftSummary(Figures):
    status: Status
    num_method: str
    cat_method: str
    share: float | None = None
    share_threshold: float
    features_compared: int = 0
    columns: list[ColumnDriftFigure] = []
    prediction: ColumnDriftFigure | None = None
    column_checks: list[Check] = []
    skipped_columns: list[str] = []

    @property
    def judged(self) -> bool:
        return self.status is not Status.INSUFFICIENT_DATA

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]


class PerformanceSummary(Figures):
    """Dollar figures for people, log-error checks for the decision."""

    status: Status
    labelled: int
    min_labels: int | None = None
    rmse: float | None = None
    mae: float | None = None
    mape_percent: float | None = None
    bias: float | None = None
    coverage: float | None = None
    reference_rmse: float | None = None
    reference_coverage: float | None = None
    coverage_level: float
    checks: list[Check] = []

    @property
    def judged(self) -> bool:
        return self.status is not Status.INSUFFICIENT_DATA


class WindowSummary(Figures):
    description: str
    since: datetime | None = None
    until: datetime | None = None
    last_n: int | None = None
    first_prediction_at: datetime | None = None
    last_prediction_at: datetime | None = None


class RowCounts(Figures):
    read: int
    analysed: int
    unreadable: int = 0
    sampled_from: int | None = None


class RefusedFigure(Figures):
    """Refused records of one reason: the field and kind of violation (pydantic's error type,
    or ``refused_with_request`` for valid records refused with their request)."""

    field: str
    kind: str
    records: int


class RefusalSummary(Figures):
    """Records refused by validation in the window's time span (they never reach the log)
    against the records logged there; ``check`` is None when too few records were sent."""

    refused: int
    logged: int
    share: float | None
    since: datetime | None = None
    until: datetime | None = None
    reasons: list[RefusedFigure] = []
    check: Check | None = None


class ModelScores(Figures):
    """One model's figures on the labelled rows both models priced."""

    version: str
    rmse: float | None
    mae: float | None
    coverage: float | None
    mean_width: float | None


class ShadowComparison(Figures):
    """Champion vs shadow on the same labelled predictions (paired by prediction id).

    ``rmse_gain`` is RMSE(champion) - RMSE(shadow), with its paired-bootstrap interval at
    ``confidence``; the shadow is better when the interval is above zero on at least
    ``min_labels`` rows.
    """

    champion: ModelScores
    shadow: ModelScores
    labelled: int
    min_labels: int
    confidence: float
    rmse_gain: float | None
    rmse_gain_low: float | None
    rmse_gain_high: float | None
    shadow_better: bool
    reason: str


class RunSummary(Figures):
    run_id: str
    finished_at: datetime
    trigger: str
    window: WindowSummary
    model_version: str | None
    rows: RowCounts
    labelled: int
    invalid_feedback: int = 0
    drift: DriftSummary
    performance: PerformanceSummary
    verdict: Status
    exit_code: int
    reasons: list[str]
    notes: list[str] = []
    shadow: ShadowComparison | None = None
    refusals: RefusalSummary | None = None

    @property
    def checks(self) -> list[Check]:
        """Every judged figure: performance, single-column faults, refused share."""
        refusal = self.refusals.check if self.refusals is not None else None
        return [
            *self.performance.checks,
            *self.drift.column_checks,
            *([refusal] if refusal is not None else []),
        ]

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def title(self) -> str:
        """``<verdict> <time> <id>``: the name of the run in MLflow and the workspace."""
        return f"{self.verdict.value} {self.finished_at:%Y-%m-%d %H:%M} {self.short_id}"

    def metrics(self) -> dict[str, float]:
        """Every numeric figure, flat (``performance.rmse``, ``check.bias``, ...), no nulls."""
        values: dict[str, float | int | None] = {
            "rows": self.rows.analysed,
            "labelled": self.labelled,
            "exit_code": self.exit_code,
        }
        if self.drift.judged:
            values["drift_share"] = self.drift.share
            for column in [*self.drift.columns, self.drift.prediction]:
                if column is not None:
                    values[f"drift_score.{column.column}"] = column.score
        performance = self.performance
        for name in ("rmse", "mae", "mape_percent", "bias", "coverage", "reference_rmse"):
            values[name] = getattr(performance, name)
        if self.refusals is not None:
            values["refused_records"] = self.refusals.refused
            values["refused_share"] = self.refusals.share
        for check in self.checks:
            values[f"check.{check.name}"] = check.value
        if self.shadow is not None:
            comparison = self.shadow
            values["shadow.labelled"] = comparison.labelled
            for side in ("champion", "shadow"):
                scores = getattr(comparison, side)
                for name in ("rmse", "mae", "coverage", "mean_width"):
                    values[f"shadow.{side}_{name}"] = getattr(scores, name)
            values["shadow.rmse_gain"] = comparison.rmse_gain
            values["shadow.rmse_gain_low"] = comparison.rmse_gain_low
            values["shadow.rmse_gain_high"] = comparison.rmse_gain_high
        return {k: float(v) for k, v in values.items() if v is not None}
