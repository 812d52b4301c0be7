"""The latest monitoring figures, kept in the log database so every replica and CI can see them.

The service exposes :func:`latest_status` as Prometheus gauges; the monitor appends one row to
``monitoring_runs`` per run with :func:`record_run`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import field_validator
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from housing.config import Settings
from housing.run_summary import Figures, RunSummary
from housing.store.database import create_log_engine
from housing.store.tables import monitoring_runs


def record_run(engine: Engine, summary: RunSummary) -> None:
    prediction = summary.drift.prediction
    with engine.begin() as connection:
        connection.execute(
            insert(monitoring_runs).values(
                run_id=summary.run_id,
                finished_at=summary.finished_at,
                model_version=summary.model_version,
                window_start=summary.window.first_prediction_at,
                window_end=summary.window.last_prediction_at,
                rows=summary.rows.analysed,
                labelled=summary.labelled,
                drift_share=summary.drift.share,
                prediction_drift=prediction.score if prediction else None,
                rmse=summary.performance.rmse,
                coverage=summary.performance.coverage,
                verdict=summary.verdict.value,
                exit_code=summary.exit_code,
                summary=summary.model_dump(mode="json"),
            )
        )


class MonitorStatus(Figures):
    """Figures of the newest monitor run, as the service publishes them (gauges); the fields
    are columns of ``monitoring_runs``."""

    verdict: str
    exit_code: int
    drift_share: float | None
    prediction_drift: float | None
    rmse: float | None
    coverage: float | None
    labelled: int | None
    rows: int | None
    model_version: str | None
    finished_at: datetime

    @field_validator("finished_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """SQLite returns naive timestamps; the log stores UTC."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    @property
    def finished_at_epoch(self) -> float:
        return self.finished_at.timestamp()


def latest_status(settings: Settings, engine: Engine | None = None) -> MonitorStatus | None:
    """Figures of the newest monitor run, or None when there is none (or no table yet)."""
    engine = engine or create_log_engine(settings.storage)
    query = select(monitoring_runs).order_by(monitoring_runs.c.finished_at.desc()).limit(1)
    try:
        with engine.connect() as connection:
            row = connection.execute(query).first()
    except SQLAlchemyError:
        return None
    return None if row is None else MonitorStatus.model_validate(row, from_attributes=True)


def version_history(engine: Engine, version: int | str, limit: int) -> list[dict[str, object]]:
    """The newest ``limit`` monitor runs of one model version, oldest first (the model card's
    live performance and drift history); empty when there are none or no table yet."""
    table = monitoring_runs
    query = (
        select(
            table.c.finished_at,
            table.c.rows,
            table.c.labelled,
            table.c.drift_share,
            table.c.rmse,
            table.c.coverage,
            table.c.verdict,
        )
        .where(table.c.model_version == str(version))
        .order_by(table.c.finished_at.desc())
        .limit(limit)
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except SQLAlchemyError:
        return []
    history = []
    for row in reversed(rows):
        finished = row.finished_at
        if finished.tzinfo is None:
            finished = finished.replace(tzinfo=UTC)
        history.append({**row._asdict(), "finished_at": finished.isoformat(timespec="seconds")})
    return history
