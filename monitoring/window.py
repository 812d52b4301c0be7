"""Which slice of the prediction log a monitor run looks at, and reading it as a frame.

The log stores each house as a JSON document, so a window is read once, features are expanded
into columns, and the feedback (true price) is joined by prediction id. Feedback values that are
not usable labels (not a number, not finite, outside the plausible range) are counted and then
treated as missing, so a corrupted row never crashes a run nor poisons the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from housing.config import Settings
from housing.records import records_to_frame
from housing.store.tables import feedback, predictions

# Columns of the monitoring frame besides the configured features.
PREDICTION = "prediction"
ACTUAL = "actual_price"
LOW = "price_low"
HIGH = "price_high"
VERSION = "model_version"
CREATED = "created_at"
ID = "prediction_id"


class WindowError(ValueError):
    """A window specification that cannot be used (bad timestamp, contradictory bounds)."""


@dataclass(frozen=True)
class Window:
    """Time bounds (UTC, ``since`` inclusive, ``until`` exclusive) and/or a row count cap."""

    since: datetime | None = None
    until: datetime | None = None
    last_n: int | None = None

    def describe(self) -> str:
        parts = []
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        if self.last_n:
            parts.append(f"last {self.last_n} predictions")
        return ", ".join(parts) or "whole log"


def parse_timestamp(text: str, option: str) -> datetime:
    """ISO-8601 to an aware UTC datetime; naive input is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(f"{option}: '{text}' is not an ISO-8601 timestamp") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_window(
    settings: Settings,
    *,
    since: str | None = None,
    until: str | None = None,
    last: int | None = None,
    now: datetime | None = None,
) -> Window:
    """Window from command-line options, falling back to ``monitoring.window`` in the config."""
    if last is not None and last <= 0:
        raise WindowError(f"--last: must be a positive number of predictions, got {last}")
    start = parse_timestamp(since, "--since") if since else None
    end = parse_timestamp(until, "--until") if until else None
    if start and end and start >= end:
        raise WindowError(f"--since ({since}) must be earlier than --until ({until})")
    if start or end or last:
        return Window(since=start, until=end, last_n=last)
    configured = settings.monitoring.window
    if configured.since_hours is not None:
        now = now or datetime.now(UTC)
        start = now - timedelta(hours=configured.since_hours)
    return Window(since=start, last_n=configured.last_n)


@dataclass
class LogWindow:
    """The rows of a window, ready for analysis, with counts of what was set aside and why."""

    frame: pd.DataFrame
    total_rows: int
    unreadable_rows: int = 0
    invalid_feedback: int = 0
    sampled_from: int | None = None
    notes: list[str] = field(default_factory=list)
    earliest: datetime | None = None  # first prediction read (before sampling), UTC

    @property
    def labelled(self) -> int:
        return int(self.frame[ACTUAL].notna().sum()) if len(self.frame) else 0


def _as_utc(value: datetime) -> datetime:
    """Aware UTC: PostgreSQL compares instants; SQLite's DATETIME stores the UTC wall time."""
    return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """A time read back from the log as aware UTC (SQLite returns the UTC wall time, naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clean_label(value: object, low: float, high: float) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < low or number > high:
        return None
    return number


def read_window(engine: Engine, settings: Settings, window: Window) -> LogWindow:
    """Read predictions in ``window`` joined with their feedback, newest first, then sampled.

    Windows larger than ``monitoring.max_rows`` are reduced by a uniform random sample without
    replacement seeded with ``monitoring.seed``, so a rerun over the same log is identical.
    """
    query = (
        select(
            predictions.c.prediction_id,
            predictions.c.created_at,
            predictions.c.model_version,
            predictions.c.features,
            predictions.c.price,
            predictions.c.price_low,
            predictions.c.price_high,
            feedback.c.actual_price,
        )
        .select_from(predictions.outerjoin(feedback))
        .order_by(predictions.c.created_at.desc())
    )
    if window.since:
        query = query.where(predictions.c.created_at >= _as_utc(window.since))
    if window.until:
        query = query.where(predictions.c.created_at < _as_utc(window.until))
    if window.last_n:
        query = query.limit(window.last_n)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return frame_from_rows(rows, settings)


def frame_from_rows(rows: list, settings: Settings) -> LogWindow:
    """Expand JSON features into columns; set aside rows whose features are not a record."""
    plausible = settings.service.feedback
    records, meta, labels = [], [], []
    unreadable = invalid = 0
    for row in rows:
        features = row.features
        if not isinstance(features, dict):
            unreadable += 1
            continue
        records.append(features)
        meta.append(
            (
                row.prediction_id,
                row.created_at,
                str(row.model_version),
                row.price,
                row.price_low,
                row.price_high,
            )
        )
        label = None
        if row.actual_price is not None:
            label = _clean_label(row.actual_price, plausible.plausible_min, plausible.plausible_max)
            invalid += label is None
        labels.append(label)
    frame = records_to_frame(records, settings)
    columns = list(zip(*meta, strict=True)) if meta else [[] for _ in range(6)]
    frame[ID] = list(columns[0])
    frame[CREATED] = pd.to_datetime(list(columns[1]), utc=True)
    frame[VERSION] = list(columns[2])
    for name, values in zip((PREDICTION, LOW, HIGH), columns[3:], strict=True):
        frame[name] = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
    frame[ACTUAL] = np.array([np.nan if v is None else v for v in labels], dtype=float)
    times = [row.created_at for row in rows if row.created_at is not None]
    result = LogWindow(
        frame=frame.reset_index(drop=True),
        total_rows=len(rows),
        unreadable_rows=unreadable,
        invalid_feedback=invalid,
        earliest=as_utc(min(times)) if times else None,
    )
    if unreadable:
        result.notes.append(f"{unreadable} log rows have unreadable features and were skipped")
    if invalid:
        result.notes.append(
            f"{invalid} feedback values are not plausible prices "
            f"({plausible.plausible_min:g}..{plausible.plausible_max:g}) and were ignored"
        )
    return sample_window(result, settings.monitoring.max_rows, settings.monitoring.seed)


def sample_window(window: LogWindow, max_rows: int, seed: int) -> LogWindow:
    """Uniform seeded sample without replacement down to ``max_rows`` (no-op when smaller)."""
    if len(window.frame) <= max_rows:
        return window
    size = len(window.frame)
    window.frame = window.frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    window.sampled_from = size
    window.notes.append(f"window of {size} rows sampled uniformly (seed {seed}) to {max_rows}")
    return window
