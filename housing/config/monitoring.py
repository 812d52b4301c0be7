"""``monitoring`` and ``simulator``: how the prediction log is judged, and the traffic that
exercises it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from housing.config.base import Fraction, PositiveFloat, PositiveInt, ProjectPath, Section

# Evidently drift methods by how their score reads: a p-value drifts when it is BELOW the
# threshold, a distance (every other method) when it is AT OR ABOVE it. Fixing the method here
# (instead of Evidently's sample-size rule) keeps the meaning of a score stable run to run.
P_VALUE_DRIFT_METHODS = ("ks", "chisquare", "z", "t_test", "mannw", "anderson", "cramer_von_mises")
NumericDriftMethod = Literal[
    "wasserstein", "psi", "kl_div", "hellinger", "ed", "ks", "t_test", "mannw", "anderson",
    "cramer_von_mises",
]  # fmt: skip
CategoryDriftMethod = Literal[
    "jensenshannon", "psi", "kl_div", "hellinger", "TVD", "chisquare", "z"
]


class DriftConfig(Section):
    """Data drift: each feature's window distribution against the model's training reference
    (Evidently), judged with a fixed method so a score means the same every run."""

    num_method: NumericDriftMethod = Field(
        default="wasserstein",
        description="Evidently drift method of numeric features and of the predicted price",
    )
    num_threshold: PositiveFloat = Field(
        default=0.1,
        description="a numeric column drifted when its score is at or above this (a distance) "
        "or below it (a p-value method: ks, t_test, mannw, anderson, cramer_von_mises)",
    )
    cat_method: CategoryDriftMethod = Field(
        default="jensenshannon", description="Evidently drift method of category features"
    )
    cat_threshold: PositiveFloat = Field(
        default=0.1,
        description="a category column drifted when its score is at or above this (a distance) "
        "or below it (a p-value method: chisquare, z)",
    )
    share_threshold: Fraction = Field(
        default=0.3,
        description="the window drifted when at least this share of the features drifted",
    )
    include_prediction: bool = Field(
        default=True,
        description="true: drift of the predicted price alone also makes the window drifted",
    )
    min_rows: PositiveInt = Field(
        default=1000, description="fewer rows in the window than this: drift is not judged"
    )


class ColumnChecksConfig(Section):
    """Faults of one column that a drift share over all features cannot see."""

    drift_multiple: float = Field(
        default=2.0,
        gt=1.0,
        description="one feature whose drift score passes this multiple of its threshold "
        "(a distance above, a p-value below threshold / multiple) is a reason on its own",
    )
    missing_margin: Fraction = Field(
        default=0.05,
        description="a feature's missing share may exceed the reference's by this much "
        "(judged with the confidence level of performance.false_alarm_rate)",
    )
    constant_share: Fraction = Field(
        default=0.9,
        description="a feature whose most frequent value fills this share of the window, "
        "but not of the reference, is reported as constant (a frozen input)",
    )


class RefusalsConfig(Section):
    """Records refused by validation (HTTP 400 / gRPC INVALID_ARGUMENT) never reach the log: a
    client sending a unit bug leaves a log that looks healthy. Their share of the records sent
    in the window is a data-quality signal of its own (status drift)."""

    max_share: Fraction = Field(
        default=0.02,
        description="refused records / (refused + logged records) in the window above this is "
        "a reason in the verdict",
    )
    min_records: PositiveInt = Field(
        default=500,
        description="fewer records sent in the window (refused + logged): the share is not "
        "judged (one malformed request in a quiet hour is not a data-quality fault)",
    )


class PerformanceConfig(Section):
    """Performance is judged on the log error log(predicted / actual): scale-free, so a change
    of traffic mix towards dearer houses is not read as degradation, and each figure is
    compared with the same figure on the reference rows through a confidence interval that
    counts the sampling noise of both."""

    false_alarm_rate: Fraction = Field(
        default=0.01,
        description="chance that an unchanged model on unchanged traffic is called degraded, "
        "shared equally by the bias, error-size and coverage checks",
    )
    bias_margin: PositiveFloat = Field(
        default=0.05,
        description="systematic log error (window minus reference) that is still immaterial; "
        "0.05 is about 5% of the price",
    )
    rms_margin: PositiveFloat = Field(
        default=0.15,
        description="degraded when the RMS log error is surely above the reference's by more "
        "than this (relative)",
    )
    coverage_floor: Fraction = Field(
        default=0.8, description="degraded when live interval coverage is surely below this"
    )
    smallest_shift: PositiveFloat = Field(
        default=0.10,
        description="smallest systematic price change worth catching (0.10 = prices 10% off); "
        "with `power` it sets how many labels a `healthy` performance verdict needs",
    )
    power: Fraction = Field(
        default=0.8, description="chance of catching `smallest_shift` once min_labels are in"
    )
    min_labels_floor: PositiveInt = Field(
        default=30,
        description="below this many labels nothing is judged (the normal approximation of "
        "the confidence intervals needs a few dozen rows)",
    )

    @model_validator(mode="after")
    def _shift_beyond_margin(self) -> PerformanceConfig:
        if math.log1p(self.smallest_shift) <= self.bias_margin:
            raise ValueError(
                f"smallest_shift {self.smallest_shift:g} must exceed bias_margin "
                f"{self.bias_margin:g} (as log(1 + smallest_shift)), or no label count suffices"
            )
        return self


class WindowConfig(Section):
    """The predictions a monitor run judges, unless the command names its own window
    (``--last``, ``--since``, ``--until``)."""

    last_n: PositiveInt | None = Field(
        default=5000, description="the newest this many predictions (null: no count limit)"
    )
    since_hours: PositiveFloat | None = Field(
        default=None,
        description="only predictions of the last this many hours (null: no time limit); with "
        "last_n, the newest last_n of them",
    )


class ScheduleConfig(Section):
    """``housing schedule``: when the monitor runs; set exactly one of the two triggers."""

    interval_minutes: PositiveFloat | None = Field(
        default=60.0,
        description="minutes between monitor runs (null when cron is set)",
    )
    cron: str | None = Field(
        default=None,
        description="crontab expression of the runs in UTC, e.g. `0 * * * *` (null when "
        "interval_minutes is set)",
    )
    retrain_on_alert: bool = Field(
        default=True,
        description="a run that recommends retraining (exit code 3) retrains, and builds the "
        "Bento when retrain.build_bento is on",
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleConfig:
        if (self.interval_minutes is None) == (self.cron is None):
            raise ValueError("set exactly one of 'interval_minutes' and 'cron'")
        return self


class MonitoringConfig(Section):
    """``housing monitor``: drift, column faults, refusals and performance of a window of the
    prediction log, judged against the model's training reference."""

    reports_dir: ProjectPath = Field(
        description="where each run writes report.html and summary.json, and the model cards"
    )
    workspace_dir: ProjectPath = Field(
        description="the Evidently workspace (the dashboard `housing ui` serves)"
    )
    window: WindowConfig = WindowConfig()
    max_rows: PositiveInt = Field(
        default=50_000, description="larger windows are sampled (seeded) down to this many rows"
    )
    reference_rows: PositiveInt = Field(
        default=5000, description="rows of the training reference stored with each model"
    )
    seed: int = Field(
        default=42,
        description="seed of every sample: the window down to max_rows, the training reference, "
        "the shadow comparison; the same log gives the same verdict",
    )
    drift: DriftConfig = DriftConfig()
    columns: ColumnChecksConfig = ColumnChecksConfig()
    refusals: RefusalsConfig = RefusalsConfig()
    performance: PerformanceConfig = PerformanceConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    ui_port: int = Field(default=8000, ge=1, le=65535, description="port of `housing ui`")
    card_history_runs: PositiveInt = Field(
        default=50, description="monitor runs of a version shown on its model card (newest)"
    )


class ScenarioConfig(Section):
    """A named traffic scenario of ``housing simulate``: how houses and true prices differ."""

    description: str = Field(
        default="", description="what the scenario shows, for readers of the file (not used)"
    )
    scale: dict[str, PositiveFloat] = Field(
        default={}, description="numeric feature -> factor (clipped to the feature's range)"
    )
    category_weights: dict[str, dict[str, Annotated[float, Field(ge=0.0)]]] = Field(
        default={}, description="category feature -> {category: sampling weight}; unlisted = 1"
    )
    price_factor: PositiveFloat = Field(
        default=1.0, description="true price = dataset price * factor (the market moved)"
    )


class SimulatorConfig(Section):
    """``housing simulate``: real HTTP traffic from held-out houses, with feedback, to watch
    the loop."""

    url: str | None = Field(default=None, description="service URL; default service.host:port")
    records_per_request: PositiveInt = Field(
        default=20, description="houses per prediction request"
    )
    concurrency: PositiveInt = Field(default=4, description="requests in flight at once")
    feedback_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.5, description="share of answered predictions whose true price is sent back"
    )
    feedback_delay_s: Annotated[float, Field(ge=0.0)] = Field(
        default=1.0, description="seconds between the last prediction and the feedback"
    )
    timeout_s: PositiveFloat = Field(default=30.0, description="HTTP timeout of one request (s)")
    seed: int = Field(
        default=7, description="seed of the houses sent, the scenario and the feedback sample"
    )
    scenarios: dict[str, ScenarioConfig] = Field(
        default={"baseline": ScenarioConfig()},
        description="named scenarios `housing simulate --scenario NAME` can send",
    )
