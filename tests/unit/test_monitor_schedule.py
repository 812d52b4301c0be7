"""The schedule comes from the configuration: an interval or a cron expression, never both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from housing.config import ConfigError
from monitoring.scheduler import _trigger
from tests.fixtures.monitoring import monitoring_settings


def test_interval_and_cron_triggers(tmp_path) -> None:
    interval = _trigger(monitoring_settings(tmp_path))
    assert interval.interval.total_seconds() == 60 * 60
    cron = _trigger(
        monitoring_settings(
            tmp_path,
            {
                "HOUSING_MONITORING__SCHEDULE__INTERVAL_MINUTES": "",
                "HOUSING_MONITORING__SCHEDULE__CRON": "*/15 * * * *",
            },
        )
    )
    start = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)
    assert cron.get_next_fire_time(None, start) == datetime(2026, 11, 27, 10, 15, tzinfo=UTC)


def test_both_or_neither_is_a_configuration_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="set exactly one of 'interval_minutes' and 'cron'"):
        monitoring_settings(tmp_path, {"HOUSING_MONITORING__SCHEDULE__CRON": "0 * * * *"})
