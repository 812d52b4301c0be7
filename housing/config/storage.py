"""``mlflow``, ``bentoml`` and ``storage``: where models, runs and the prediction log live."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from housing.config.base import DatabaseUrl, PositiveFloat, PositiveInt, ProjectPath, Section


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
