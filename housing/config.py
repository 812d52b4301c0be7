"""One typed configuration object for the whole product.

Everything a user tunes lives in ``configuration.yaml``. It is validated on load so that a typo
fails loudly with the key's dotted path instead of silently falling back to a default, and any
value can be overridden by an environment variable ``HOUSING_<SECTION>__<KEY>[__<SUBKEY>...]``
(nesting separated by a double underscore), which is how containers and CI inject settings.

Relative paths (and relative ``sqlite:///`` URLs) are resolved against the directory of the
configuration file, so commands behave the same from any working directory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

ENV_PREFIX = "HOUSING_"
ENV_NESTING = "__"
CONFIG_ENV = "HOUSING_CONFIG"
DEFAULT_CONFIG_NAME = "configuration.yaml"
# Environment variables with the prefix that are not configuration overrides.
RESERVED_ENV = {"HOUSING_CONFIG", "HOUSING_FEEDBACK_TOKEN", "HOUSING_ADMIN_TOKEN"}


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the key."""


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", Path.cwd()))


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (_base_dir(info) / path).resolve()


def _resolve_sqlite_url(value: str, info: ValidationInfo) -> str:
    """Make ``sqlite:///relative.db`` absolute; leave other URLs (postgresql, http, ...) alone."""
    prefixes = ("sqlite:///", "sqlite+pysqlite:///")
    for prefix in prefixes:
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
                return prefix + str((_base_dir(info) / rest).resolve())
    return value


ProjectPath = Annotated[Path, AfterValidator(_resolve_path)]
DatabaseUrl = Annotated[str, Field(min_length=1), AfterValidator(_resolve_sqlite_url)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- dataset


class FeatureSpec(Section):
    """One input column of a house record: its type, unit and what values are plausible."""

    type: Literal["float", "int", "category"]
    description: str = ""
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    nullable: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if self.type == "category":
            if not self.categories:
                raise ValueError("a category feature needs a non-empty 'categories' list")
            if self.min is not None or self.max is not None:
                raise ValueError("a category feature cannot have 'min'/'max'")
        elif self.categories is not None:
            raise ValueError("only category features can have 'categories'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class DatasetConfig(Section):
    name: str = Field(min_length=1)
    path: ProjectPath
    sha256: str | None = Field(
        default=None, description="expected checksum of the file; checked before training"
    )
    target: str = Field(min_length=1)
    target_unit: str = "USD"
    target_min: float = Field(description="smallest plausible target value")
    target_max: float = Field(description="largest plausible target value")
    features: dict[str, FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DatasetConfig:
        if self.target in self.features:
            raise ValueError(f"the target '{self.target}' cannot also be a feature")
        if self.target_min >= self.target_max:
            raise ValueError("'target_min' must be smaller than 'target_max'")
        return self


class StratifyConfig(Section):
    column: str
    bins: list[float] = Field(min_length=3, description="bin edges; use .inf for open ends")

    @model_validator(mode="after")
    def _increasing(self) -> StratifyConfig:
        if any(b <= a for a, b in zip(self.bins, self.bins[1:], strict=False)):
            raise ValueError("'bins' must be strictly increasing")
        return self


class SplitConfig(Section):
    holdout_fraction: Fraction = 0.2
    seed: int = 42
    cv_folds: int = Field(default=5, ge=2)
    cv_jobs: PositiveInt = Field(default=2, description="parallel CV fits (processes)")
    stratify: StratifyConfig | None = None


class RatioFeature(Section):
    name: str
    numerator: str
    denominator: str


class RotatedCoordinates(Section):
    longitude: str
    latitude: str
    angles_deg: list[float] = Field(min_length=1)


class PlaceDistances(Section):
    longitude: str
    latitude: str
    places: dict[str, tuple[float, float]] = Field(
        min_length=1, description="name: [longitude, latitude]; adds km_to_<name>"
    )


class NeighbourPrices(Section):
    longitude: str
    latitude: str
    k: list[PositiveInt] = Field(
        min_length=1, description="neighbourhood sizes; each adds the mean log target of k rows"
    )


class FeatureEngineeringConfig(Section):
    ratios: list[RatioFeature] = []
    rotated_coordinates: RotatedCoordinates | None = None
    distances_to: PlaceDistances | None = None
    neighbour_prices: NeighbourPrices | None = None


class ModelConfig(Section):
    estimator: Literal["hist_gradient_boosting", "random_forest", "ridge"] = (
        "hist_gradient_boosting"
    )
    params: dict[str, Any] = {}
    log_target: bool = Field(default=True, description="fit on log(price); prices are skewed")
    threads: PositiveInt = Field(
        default=1,
        description="OpenMP/BLAS threads of one fit; CV runs split.cv_jobs fits in parallel",
    )


class GroupSpec(Section):
    column: str
    quantiles: int | None = Field(
        default=None,
        ge=2,
        description="numeric column: groups are this many training quantiles (e.g. 5 quintiles)",
    )


class IntervalConfig(Section):
    coverage: Fraction = 0.9
    method: Literal["absolute", "normalized"] = Field(
        default="normalized",
        description=(
            "absolute: one multiplicative width for every house; normalized: the width scales"
            " with an error model's estimate of each house's log error"
        ),
    )
    error_model: dict[str, Any] = Field(
        default={}, description="HistGradientBoostingRegressor params of the error model"
    )
    error_floor_quantile: Fraction = Field(
        default=0.01, description="the error estimate never goes below this training quantile"
    )
    mondrian: GroupSpec | None = Field(
        default=None, description="calibrate each group of this column separately"
    )
    mondrian_min_rows: PositiveInt = Field(
        default=200, description="smaller groups use the pooled calibration"
    )
    groups: list[GroupSpec] = Field(
        default=[], description="coverage and width are reported per group of these columns"
    )


class SearchDimension(Section):
    """One hyper-parameter of ``housing tune``: a numeric range or a list of choices."""

    type: Literal["float", "int", "choice"]
    low: float | None = None
    high: float | None = None
    log: bool = Field(default=False, description="sample on a log scale (rates, sizes)")
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SearchDimension:
        if self.type == "choice":
            if not self.choices or self.low is not None or self.high is not None:
                raise ValueError("a 'choice' dimension needs 'choices' and no 'low'/'high'")
            return self
        if self.choices is not None or self.low is None or self.high is None:
            raise ValueError(f"a '{self.type}' dimension needs 'low' and 'high' (no 'choices')")
        if self.low >= self.high:
            raise ValueError(f"'low' ({self.low:g}) must be smaller than 'high' ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError("a 'log' dimension needs 'low' > 0")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an 'int' dimension needs whole 'low' and 'high'")
        return self


class TuningConfig(Section):
    """``housing tune``: a bounded search of ``model.params`` judged by CV on the training part."""

    trials: PositiveInt = Field(default=30, description="most trials one search runs")
    timeout_s: PositiveFloat | None = Field(
        default=3600.0, description="no new trial starts after this many seconds (null: no limit)"
    )
    cv_folds: int | None = Field(
        default=None, ge=2, description="folds of each trial's CV (null: split.cv_folds)"
    )
    metric: Literal["rmse", "mae"] = Field(
        default="rmse", description="the CV mean this search minimises"
    )
    seed: int = Field(default=42, description="seed of the sampler (TPE)")
    space: dict[str, SearchDimension] = Field(
        default={}, description="model.params key -> its range; other params stay as configured"
    )


class PromotionConfig(Section):
    metric: Literal["rmse", "mae"] = "rmse"
    tolerance: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "relative slack: promote when challenger < champion * (1 + tolerance); with 0 an"
            " equally good model is not promoted"
        ),
    )


class MlflowConfig(Section):
    tracking_uri: DatabaseUrl
    artifact_location: ProjectPath | None = Field(
        default=None, description="where runs store artifacts when the tracking URI is local"
    )
    experiment: str = Field(min_length=1)
    registered_model: str = Field(min_length=1)
    champion_alias: str = "champion"
    shadow_alias: str = "shadow"
    monitoring_experiment: str = Field(min_length=1)


class BentoMLConfig(Section):
    home: ProjectPath
    model_name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    bento_name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")


# ----------------------------------------------------------------------------- storage


class StorageConfig(Section):
    url: DatabaseUrl
    flush_interval_s: PositiveFloat = 0.5
    flush_max_rows: PositiveInt = 500
    spool_dir: ProjectPath = Field(
        description="each worker's write-ahead journal, and rows waiting for the database"
    )
    sqlite_busy_timeout_ms: PositiveInt = 5000
    retry_interval_s: PositiveFloat = 2.0
    journal: bool = Field(
        default=True,
        description="append each model batch's rows to the worker's journal before answering; "
        "off: rows wait in memory until written, so a killed worker loses them",
    )
    journal_fsync: bool = Field(
        default=False,
        description="fsync every journal append: answered rows also survive a power loss",
    )
    journal_min_free_mb: PositiveFloat = Field(
        default=1.0,
        description="a worker that refused rows is ready again only when the journal's file "
        "system has this much free space (a few freed kilobytes must not flip readiness)",
    )
    on_log_unavailable: Literal["refuse", "serve"] = Field(
        default="refuse",
        description="when neither the journal nor the database can take rows: refuse "
        "predictions (503, not ready) or serve them unlogged (counted, reported)",
    )
    unlogged_report_interval_s: PositiveFloat = Field(
        default=10.0, description="how often 'serve' reports the rows it could not log"
    )


# ----------------------------------------------------------------------------- service


class FeedbackConfig(Section):
    enabled: bool = True
    allow_unauthenticated: bool = Field(
        default=False, description="local development only: accept feedback without a token"
    )
    token_env: str = "HOUSING_FEEDBACK_TOKEN"
    token_file: ProjectPath | None = Field(
        default=None,
        description="where the token is read from when token_env is unset (make serve writes it)",
    )
    plausible_min: PositiveFloat
    plausible_max: PositiveFloat
    max_items_per_request: PositiveInt = 1000


class ShadowConfig(Section):
    """A second registered version scored on live traffic beside the champion, never answered."""

    version: PositiveInt | None = Field(
        default=None,
        description="score this version as the shadow; null: follow the registry's shadow "
        "alias (`housing shadow start VERSION` / `housing shadow stop`)",
    )
    max_pending_batches: PositiveInt = Field(
        default=4,
        description="batches waiting for the shadow while it prices; a batch beyond this is "
        "skipped and counted",
    )
    batch_rows: PositiveInt = Field(
        default=500,
        description="rows the shadow gathers from several model batches before one model call "
        "and one insert (the per-call cost is paid once per this many rows)",
    )
    max_wait_ms: PositiveInt = Field(
        default=1000,
        description="the longest a gathered row waits for batch_rows before the shadow prices "
        "what it has (light traffic)",
    )


class CorsConfig(Section):
    """Cross-origin requests from browsers, applied to every route (off by default)."""

    enabled: bool = False
    allow_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API, e.g. https://app.example",
    )
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST"])
    allow_headers: list[str] = Field(default_factory=lambda: ["Authorization", "Content-Type"])
    max_age_s: int = Field(default=600, ge=0, description="how long browsers cache a preflight")

    @model_validator(mode="after")
    def _origins_when_enabled(self) -> CorsConfig:
        if self.enabled and not self.allow_origins:
            raise ValueError("allow_origins must list at least one origin when enabled")
        return self


class ServiceConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    grpc_port: int = Field(default=3001, ge=1, le=65535)
    workers: PositiveInt = 1
    numeric_threads: PositiveInt = Field(
        default=1, description="OpenMP/BLAS threads per worker; workers x threads <= cores"
    )
    max_batch_size: PositiveInt = 1000
    small_batch_rows: NonNegativeInt = Field(
        default=32,
        description="model batches up to this many rows are scored by treelite's GTIL in one "
        "native call instead of scikit-learn's one call per tree (0: always scikit-learn)",
    )
    max_latency_ms: PositiveInt = 500
    max_records_per_request: PositiveInt = 1000
    max_body_bytes: PositiveInt = 2_000_000
    request_timeout_s: PositiveFloat = 30.0
    body_read_timeout_s: PositiveFloat = Field(
        default=10.0,
        description="a request body not received in full within this is refused (408), so a "
        "slow or stuck client cannot hold a connection (or a shutdown) indefinitely",
    )
    header_read_timeout_s: PositiveFloat = Field(
        default=10.0,
        description="a connection that has not sent a request's headers in full within this "
        "(counted from its first byte, or from the connection) gets 408 and is closed",
    )
    drain_timeout_s: PositiveFloat = Field(
        default=15.0,
        description="after SIGTERM, requests still open after this are cancelled and the "
        "worker shuts down (then gRPC calls get as long again; the prediction log is flushed)",
    )
    model_poll_interval_s: PositiveFloat = 5.0
    access_log: bool = False
    cors: CorsConfig = Field(default_factory=CorsConfig)
    feedback: FeedbackConfig
    shadow: ShadowConfig = ShadowConfig()


# ----------------------------------------------------------------------------- monitoring


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
    num_method: NumericDriftMethod = "wasserstein"
    num_threshold: PositiveFloat = 0.1
    cat_method: CategoryDriftMethod = "jensenshannon"
    cat_threshold: PositiveFloat = 0.1
    share_threshold: Fraction = 0.3
    include_prediction: bool = True
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
    last_n: PositiveInt | None = 5000
    since_hours: PositiveFloat | None = None


class ScheduleConfig(Section):
    interval_minutes: PositiveFloat | None = 60.0
    cron: str | None = None
    retrain_on_alert: bool = True

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleConfig:
        if (self.interval_minutes is None) == (self.cron is None):
            raise ValueError("set exactly one of 'interval_minutes' and 'cron'")
        return self


class MonitoringConfig(Section):
    reports_dir: ProjectPath
    workspace_dir: ProjectPath
    window: WindowConfig = WindowConfig()
    max_rows: PositiveInt = Field(
        default=50_000, description="larger windows are sampled (seeded) down to this many rows"
    )
    reference_rows: PositiveInt = Field(
        default=5000, description="rows of the training reference stored with each model"
    )
    seed: int = 42
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

    description: str = ""
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
    url: str | None = Field(default=None, description="service URL; default service.host:port")
    records_per_request: PositiveInt = 20
    concurrency: PositiveInt = 4
    feedback_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    feedback_delay_s: Annotated[float, Field(ge=0.0)] = 1.0
    timeout_s: PositiveFloat = 30.0
    seed: int = 7
    scenarios: dict[str, ScenarioConfig] = {"baseline": ScenarioConfig()}


class CorrectionConfig(Section):
    """The recent-market correction a ``correction`` retrain adds on top of the champion."""

    features: list[str] = Field(
        default=[],
        description="numeric features the log-price correction is learned from (e.g. the "
        "coordinates, for a regional market move)",
    )
    params: dict[str, Any] = Field(
        default={},
        description="HistGradientBoostingRegressor params of the correction (few shallow, "
        "strongly regularised rounds: the correction is shrunk toward no change)",
    )
    moved_margin: Fraction = Field(
        default=0.05,
        description="holdout houses whose price the correction moves by more than this (log) "
        "are left out of the holdout comparison: recent labels say their market moved",
    )


class RetrainConfig(Section):
    method: Literal["refit", "correction"] = Field(
        default="refit",
        description="refit: train a new model on base + production rows; correction: keep the "
        "champion and learn a log-price correction from the production rows, with intervals "
        "recalibrated on them",
    )
    correction: CorrectionConfig = CorrectionConfig()
    feedback_window_days: PositiveFloat = 30.0
    feedback_weight: PositiveFloat = Field(
        default=2.0, description="sample weight of a production row relative to a base row"
    )
    recent_fraction: Fraction = Field(
        default=0.3, description="share of labelled production rows held back for evaluation"
    )
    min_labels: PositiveInt = 100
    holdout_tolerance: float = Field(
        default=0.03,
        ge=0.0,
        lt=1.0,
        description="a challenger may be this much (relative RMSE) worse on the fixed holdout, "
        "since the market it describes may have moved; it must still win on recent labels",
    )
    quarantine_width: PositiveFloat = Field(
        default=3.0,
        description="labels farther from the champion's price than this many half-widths of "
        "its prediction interval (in log price) are implausible: quarantined, not trained on",
    )
    confidence: Fraction = Field(
        default=0.95,
        description="level of the paired-bootstrap interval of the recent-slice RMSE "
        "difference; the challenger is promoted only when the interval excludes zero",
    )
    min_gain: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="the interval's lower bound must exceed this share of the champion's recent "
        "RMSE: a win too small to be worth a new version is not promoted",
    )
    bootstrap_resamples: PositiveInt = Field(
        default=2000, description="resamples of the paired bootstrap (seeded with split.seed)"
    )
    build_bento: bool = True
    promotion_mode: Literal["gate", "shadow"] = Field(
        default="gate",
        description="gate: promote a challenger that passes the gate; shadow: score it in "
        "shadow instead, and promote it with `housing promote --from-shadow` on production labels",
    )
    shadow_min_labels: PositiveInt = Field(
        default=200,
        description="labelled predictions priced by champion and shadow that "
        "`housing promote --from-shadow` needs (with the interval at `confidence` above zero)",
    )


# ----------------------------------------------------------------------------- delivery


class DeliveryConfig(Section):
    """How the Bento is packaged into a container image (``housing build``/``containerize``)."""

    image: str = Field(
        default="housing-price",
        pattern=r"^[a-z0-9][a-z0-9._/:-]*$",
        description="image repository the container is tagged as; CI prefixes its registry",
    )
    tools_image: str = Field(
        default="housing-tools",
        pattern=r"^[a-z0-9][a-z0-9._/:-]*$",
        description="image of the monitor/retrain jobs (`housing containerize --target monitor`)",
    )
    base_image: str | None = Field(
        default=None,
        description="FROM image of the container; null keeps BentoML's python:3.11-slim",
    )
    backend: Literal["auto", "docker", "podman", "buildah"] = Field(
        default="auto", description="container builder; auto picks the first one installed"
    )


# ----------------------------------------------------------------------------- root


class Settings(Section):
    """The whole configuration; ``source`` is the file it came from (not a YAML key)."""

    dataset: DatasetConfig
    split: SplitConfig
    feature_engineering: FeatureEngineeringConfig = FeatureEngineeringConfig()
    model: ModelConfig
    intervals: IntervalConfig = IntervalConfig()
    promotion: PromotionConfig = PromotionConfig()
    tuning: TuningConfig = TuningConfig()
    mlflow: MlflowConfig
    bentoml: BentoMLConfig
    storage: StorageConfig
    service: ServiceConfig
    monitoring: MonitoringConfig
    retrain: RetrainConfig = RetrainConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    source: Path = Field(default=Path(DEFAULT_CONFIG_NAME), exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        features = self.dataset.features
        if self.split.stratify and self.split.stratify.column not in features:
            raise ValueError(
                f"split.stratify.column '{self.split.stratify.column}' is not a dataset feature"
            )
        for ratio in self.feature_engineering.ratios:
            for column in (ratio.numerator, ratio.denominator):
                if column not in features:
                    raise ValueError(
                        f"feature_engineering ratio '{ratio.name}' uses unknown feature '{column}'"
                    )
        rot = self.feature_engineering.rotated_coordinates
        if rot:
            for column in (rot.longitude, rot.latitude):
                if column not in features:
                    raise ValueError(f"rotated_coordinates uses unknown feature '{column}'")
        for spec in [*self.intervals.groups, *filter(None, [self.intervals.mondrian])]:
            feature = features.get(spec.column)
            if feature is None:
                raise ValueError(f"intervals group column '{spec.column}' is not a dataset feature")
            if (feature.type == "category") == (spec.quantiles is not None):
                raise ValueError(
                    f"intervals group '{spec.column}': set 'quantiles' for a numeric column"
                    " and only for a numeric column"
                )
        engineering = self.feature_engineering
        for key, section in (
            ("distances_to", engineering.distances_to),
            ("neighbour_prices", engineering.neighbour_prices),
        ):
            for column in (section.longitude, section.latitude) if section else ():
                if column not in features or features[column].type == "category":
                    raise ValueError(f"{key} uses unknown numeric feature '{column}'")
        for column in self.retrain.correction.features:
            if column not in features or features[column].type == "category":
                raise ValueError(
                    f"retrain.correction.features: '{column}' is not a numeric feature"
                )
        if self.retrain.method == "correction" and not self.retrain.correction.features:
            raise ValueError("retrain.method 'correction' needs retrain.correction.features")
        return self

    @model_validator(mode="after")
    def _scenarios_use_known_features(self) -> Settings:
        features = self.dataset.features
        for name, scenario in self.simulator.scenarios.items():
            where = f"simulator.scenarios.{name}"
            for column in scenario.scale:
                if column not in features or features[column].type == "category":
                    raise ValueError(f"{where}.scale: '{column}' is not a numeric feature")
            for column, weights in scenario.category_weights.items():
                spec = features.get(column)
                if spec is None or spec.type != "category":
                    raise ValueError(f"{where}.category_weights: '{column}' is not a category")
                unknown = set(weights) - set(spec.categories or [])
                if unknown:
                    raise ValueError(
                        f"{where}.category_weights.{column}: unknown categories {sorted(unknown)}"
                    )
        return self

    @property
    def root(self) -> Path:
        """Directory of the configuration file: the anchor of every relative path."""
        return self.source.parent

    @property
    def feature_names(self) -> list[str]:
        return list(self.dataset.features)


# ----------------------------------------------------------------------------- loading


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _override_variables(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Configuration location (lower case) -> the ``HOUSING_*`` variable that set it."""
    found: dict[tuple[str, ...], str] = {}
    for name in environ:
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        path = name[len(ENV_PREFIX) :].split(ENV_NESTING)
        if len(path) >= 2 and all(path):
            found[tuple(part.lower() for part in path)] = name
    return found


def _format_errors(
    error: ValidationError, source: Path, overrides: Mapping[tuple[str, ...], str]
) -> str:
    """One ``key: reason`` per problem; a value that came from an environment variable is
    named by the variable (the file is not where the user has to look)."""
    lines = []
    from_file = False
    for item in error.errors():
        key = _format_location(item["loc"])
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        elif item["type"] == "missing":
            reason = "missing key"
        else:
            reason = item["msg"]
        location = tuple(str(part).lower() for part in item["loc"])
        variable = next(
            (name for path, name in overrides.items() if location[: len(path)] == path), None
        )
        if variable is None:
            from_file = True
            lines.append(f"{key}: {reason}")
        else:
            lines.append(f"{variable} sets {key}: {reason}")
    where = f"invalid configuration {source}" if from_file else "invalid environment override"
    return f"{where}: " + "; ".join(lines)


def _find_key(mapping: Mapping[str, Any], wanted: str) -> str | None:
    """Environment variable names are upper case; YAML keys may be any case."""
    for key in mapping:
        if str(key).lower() == wanted.lower():
            return str(key)
    return None


def _env_scalar(text: str) -> Any:
    """An override's value as YAML (``true``, ``3``, ``[a, b]``); text YAML cannot parse (a cron
    expression such as ``*/15 * * * *``) stays a string; empty means null."""
    if text == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``HOUSING_A__B=value`` applied as ``raw[a][b] = value``.

    Values are parsed as YAML scalars so ``true``, ``3`` and ``[a, b]`` get their types. A
    variable that names no existing section is an error, so a misspelt override is not ignored.
    """
    result: dict[str, Any] = yaml.safe_load(yaml.safe_dump(raw)) or {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        path = name[len(ENV_PREFIX) :].split(ENV_NESTING)
        if len(path) < 2 or not all(path):
            continue
        node: dict[str, Any] = result
        for depth, part in enumerate(path):
            key = _find_key(node, part)
            last = depth == len(path) - 1
            if key is None:
                if depth == 0:
                    raise ConfigError(f"{name}: unknown configuration section '{part.lower()}'")
                key = part.lower()
            if last:
                node[key] = _env_scalar(environ[name])
            else:
                child = node.get(key)
                if child is None:
                    child = {}
                    node[key] = child
                if not isinstance(child, dict):
                    dotted = ".".join(path[: depth + 1]).lower()
                    raise ConfigError(f"{name}: '{dotted}' is a value, not a section")
                node = child
    return result


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def load_config(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, override from the environment and validate; raise ConfigError naming the key."""
    environ = os.environ if environ is None else environ
    source = Path(path) if path else default_config_path(environ)
    source = source.expanduser().resolve()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {source}: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration {source} must be a mapping of sections")
    raw = apply_env_overrides(raw, environ)
    raw["source"] = source
    try:
        return Settings.model_validate(raw, context={"base_dir": source.parent})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source, _override_variables(environ))) from None
