"""The latest monitoring figures, kept in the log database so every replica and CI can see them.

The service exposes :func:`latest_status` as Prometheus gauges; the monitor appends one row to
``monitoring_runs`` per run with :func:`record_run`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from housing.config import Settings
from housing.store.database import create_log_engine
from housing.store.tables import monitoring_runs


def record_run(engine: Engine, summary: dict[str, Any]) -> None:
    window = summary["window"]
    performance = summary["performance"]
    with engine.begin() as connection:
        connection.execute(
            insert(monitoring_runs).values(
                run_id=summary["run_id"],
                finished_at=datetime.fromisoformat(summary["finished_at"]),
                model_version=summary["model_version"],
                window_start=_parse(window["first_prediction_at"]),
                window_end=_parse(window["last_prediction_at"]),
                rows=summary["rows"]["analysed"],
                labelled=summary["labelled"],
                drift_share=summary["drift"]["share"],
                prediction_drift=_prediction_score(summary),
                rmse=performance["rmse"],
                coverage=performance["coverage"],
                verdict=summary["verdict"],
                exit_code=summary["exit_code"],
                summary=summary,
            )
        )


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _prediction_score(summary: dict[str, Any]) -> float | None:
    column = summary["drift"]["columns"].get("prediction")
    return column["score"] if column else None


def latest_status(settings: Settings, engine: Engine | None = None) -> dict[str, Any] | None:
    """Figures of the newest monitor run, or None when there is none (or no table yet).

    Keys: ``verdict``, ``exit_code``, ``drift_share``, ``prediction_drift_score``, ``rmse``,
    ``coverage``, ``labelled``, ``rows``, ``model_version``, ``finished_at`` (aware datetime)
    and ``finished_at_epoch`` (seconds, for a gauge).
    """
    engine = engine or create_log_engine(settings.storage)
    query = select(monitoring_runs).order_by(monitoring_runs.c.finished_at.desc()).limit(1)
    try:
        with engine.connect() as connection:
            row = connection.execute(query).first()
    except SQLAlchemyError:
        return None
    if row is None:
        return None
    finished = row.finished_at
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    return {
        "verdict": row.verdict,
        "exit_code": row.exit_code,
        "drift_share": row.drift_share,
        "prediction_drift_score": row.prediction_drift,
        "rmse": row.rmse,
        "coverage": row.coverage,
        "labelled": row.labelled,
        "rows": row.rows,
        "model_version": row.model_version,
        "finished_at": finished,
        "finished_at_epoch": finished.timestamp(),
    }
