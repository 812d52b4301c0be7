"""Table definitions of the prediction log, shared by the service, monitor and retraining.

One SQLAlchemy Core metadata serves SQLite and PostgreSQL alike; only the URL changes.
Feature values are stored as a JSON document per prediction so that the log survives a change of
the feature schema (old rows keep the fields they were scored with).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

SCHEMA_VERSION = 1

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("prediction_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("bento_tag", String(128), nullable=False),
    # server_default: a log written before this column existed gains it with "http".
    Column("protocol", String(8), nullable=False, default="http", server_default="http"),
    Column("features", JSON, nullable=False),
    Column("price", Float, nullable=False),
    Column("price_low", Float, nullable=False),
    Column("price_high", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Index("ix_predictions_created_at", "created_at"),
    Index("ix_predictions_model_version", "model_version"),
)

feedback = Table(
    "feedback",
    metadata,
    Column(
        "prediction_id",
        String(36),
        ForeignKey("predictions.prediction_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("actual_price", Float, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_received_at", "received_at"),
)

# Prices of the shadow version for the same prediction ids (no foreign key: the shadow row may be
# written before the log writer stores the champion's row).
shadow_predictions = Table(
    "shadow_predictions",
    metadata,
    Column("prediction_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("shadow_version", String(32), nullable=False),
    Column("price", Float, nullable=False),
    Column("price_low", Float, nullable=False),
    Column("price_high", Float, nullable=False),
    Index("ix_shadow_predictions_created_at", "created_at"),
)

# Records refused by validation (HTTP 400 / gRPC INVALID_ARGUMENT): they never reach
# ``predictions``, so the monitor counts them here. One row per refused request and reason, with
# the number of records it covers; each refused record is counted once (housing/store/refusals.py).
refusals = Table(
    "refusals",
    metadata,
    Column("refusal_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("model_version", String(32), nullable=True),
    Column("protocol", String(8), nullable=False),
    Column("field", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("records", Integer, nullable=False),
    Index("ix_refusals_created_at", "created_at"),
)

# One row per monitor run, so every replica (and CI) sees the latest verdict without files.
monitoring_runs = Table(
    "monitoring_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("model_version", String(32), nullable=True),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("rows", Integer, nullable=False),
    Column("labelled", Integer, nullable=False),
    Column("drift_share", Float, nullable=True),
    Column("prediction_drift", Float, nullable=True),
    Column("rmse", Float, nullable=True),
    Column("coverage", Float, nullable=True),
    Column("verdict", String(32), nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("summary", JSON, nullable=False),
    Index("ix_monitoring_runs_finished_at", "finished_at"),
)

schema_info = Table(
    "schema_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)
