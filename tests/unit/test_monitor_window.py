"""Window options and reading log rows into a frame, including corrupted rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from monitoring.window import (
    ACTUAL,
    WindowError,
    frame_from_rows,
    parse_timestamp,
    resolve_window,
)

HOUSE = {
    "longitude": -122.2,
    "latitude": 37.8,
    "housing_median_age": 30.0,
    "total_rooms": 900.0,
    "total_bedrooms": 150.0,
    "population": 400.0,
    "households": 140.0,
    "median_income": 5.0,
    "ocean_proximity": "NEAR BAY",
}


def _row(i: int, features: object = HOUSE, actual: object = None, version: str = "1"):
    return SimpleNamespace(
        prediction_id=f"id-{i}",
        created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i),
        model_version=version,
        features=features,
        price=200_000.0,
        price_low=150_000.0,
        price_high=260_000.0,
        actual_price=actual,
    )


def test_naive_timestamps_are_utc_and_zones_are_converted() -> None:
    assert parse_timestamp("2026-11-01T10:00", "--since") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse_timestamp("2026-11-01T12:00+02:00", "--since") == datetime(
        2026, 11, 1, 10, tzinfo=UTC
    )
    assert parse_timestamp("2026-11-01T10:00:00Z", "--until").hour == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "yesterday"}, "--since: 'yesterday' is not an ISO-8601 timestamp"),
        ({"until": "2026-13-01"}, "--until: '2026-13-01' is not an ISO-8601 timestamp"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "must be earlier than --until"),
        ({"last": 0}, "--last: must be a positive number"),
    ],
)
def test_bad_window_options_name_the_option(monitor_settings, options, message) -> None:
    with pytest.raises(WindowError, match=message):
        resolve_window(monitor_settings, **options)


def test_default_window_comes_from_the_configuration(tmp_path) -> None:
    from tests.fixtures.monitoring import monitoring_settings

    settings = monitoring_settings(tmp_path, {"HOUSING_MONITORING__WINDOW__SINCE_HOURS": "6"})
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    window = resolve_window(settings, now=now)
    assert window.since == now - timedelta(hours=6)
    assert window.last_n == settings.monitoring.window.last_n
    explicit = resolve_window(settings, last=10, now=now)
    assert (explicit.since, explicit.last_n) == (None, 10)


def test_corrupted_rows_are_counted_and_set_aside(monitor_settings) -> None:
    rows = [
        _row(0, actual=310_000.0),
        _row(1, actual="not a number"),
        _row(2, actual=-5.0),
        _row(3, actual=float("inf")),
        _row(4, features="{broken json"),
        _row(5, features={**HOUSE, "median_income": "high"}),
        _row(6),
    ]
    log = frame_from_rows(rows, monitor_settings)
    assert log.total_rows == 7
    assert log.unreadable_rows == 1
    assert log.invalid_feedback == 3
    assert len(log.frame) == 6
    assert log.labelled == 1
    assert log.frame.loc[0, ACTUAL] == 310_000.0
    assert log.frame["median_income"].isna().sum() == 1
    assert any("unreadable features" in note for note in log.notes)
    assert any("not plausible prices" in note for note in log.notes)


def test_large_windows_are_sampled_reproducibly(tmp_path) -> None:
    from tests.fixtures.monitoring import monitoring_settings

    settings = monitoring_settings(tmp_path, {"HOUSING_MONITORING__MAX_ROWS": "50"})
    rows = [_row(i, actual=100_000.0 + i) for i in range(200)]
    first = frame_from_rows(rows, settings)
    second = frame_from_rows(rows, settings)
    assert len(first.frame) == 50
    assert first.sampled_from == 200
    assert list(first.frame["prediction_id"]) == list(second.frame["prediction_id"])
    assert first.frame["prediction_id"].is_unique
