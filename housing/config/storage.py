"""``mlflow``, ``bentoml`` and ``storage``: where models, runs and the prediction log live."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from housing.config.base import DatabaseUrl, PositiveFloat, PositiveInt, ProjectPath, Section


class MlflowConfig(Section):
    """The MLflow tracking store and model registry (runs, versions, the champion alias)."""

    tracking_uri: DatabaseUrl = Field(
        description="MLflow tracking and registry URI: a local sqlite:/// file or an MLflow "
        "server (http://host:5000)"
    )
    artifact_location: ProjectPath | None = Field(
        default=None,
        description="folder of the runs' artifacts, set on each experiment when it is first "
        "created, whatever the tracking URI (meant for a local sqlite:/// store); null: the "
        "tracking store's default, as with an MLflow server that stores the artifacts itself",
    )
    experiment: str = Field(
        min_length=1, description="MLflow experiment of training, tuning and retraining runs"
    )
    registered_model: str = Field(
        min_length=1, description="MLflow registered model every trained version is added to"
    )
    champion_alias: str = Field(
        default="champion",
        description="registry alias of the version the service answers with (moved on promotion)",
    )
    shadow_alias: str = Field(
        default="shadow",
        description="registry alias of the shadow version (`housing shadow start VERSION` sets "
        "it; the service follows it)",
    )
    monitoring_experiment: str = Field(
        min_length=1, description="MLflow experiment the monitor runs are tracked in"
    )


class BentoMLConfig(Section):
    """The BentoML store: the saved models and built Bentos."""

    home: ProjectPath = Field(description="BentoML home (BENTOML_HOME): its model and Bento store")
    model_name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="name of the models saved in the BentoML store (one tag per version)",
    )
    bento_name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="name of the Bento `housing build` makes"
    )


class StorageConfig(Section):
    """The prediction log: every answer and feedback label, journaled, then written in batches."""

    url: DatabaseUrl = Field(
        description="SQLAlchemy URL of the prediction-log database: sqlite:/// (default) or "
        "postgresql+psycopg://user:pass@host/db"
    )
    flush_interval_s: PositiveFloat = Field(
        default=0.5,
        description="seconds between writes of the buffered prediction-log rows to the "
        "database (feedback for a prediction not yet written waits this long once)",
    )
    flush_max_rows: PositiveInt = Field(
        default=500,
        description="buffered rows that trigger a write before flush_interval_s has passed",
    )
    spool_dir: ProjectPath = Field(
        description="each worker's write-ahead journal, and rows waiting for the database"
    )
    sqlite_busy_timeout_ms: PositiveInt = Field(
        default=5000,
        description="milliseconds a SQLite write waits for another writer's lock before it "
        "fails (SQLite only)",
    )
    retry_interval_s: PositiveFloat = Field(
        default=2.0,
        description="seconds between attempts to reach an unavailable database or journal again "
        "(also the PostgreSQL connect timeout, at least 1 s)",
    )
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
