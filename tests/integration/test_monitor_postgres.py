"""The monitor and its status on a real PostgreSQL log (same code path as SQLite)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from housing.store.monitor_status import latest_status
from monitoring.monitor import run_monitor
from monitoring.window import Window
from tests.fixtures.monitoring import log_houses, own_outputs

# An hour in the past nobody else logs in: the shared test database may hold other tests'
# predictions, and earlier runs' rows when it is reused locally.
HOUR = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=secrets.randbelow(80_000))


def test_monitor_reads_a_postgres_log(
    champion_settings, holdout_houses, postgres_url, tmp_path
) -> None:
    settings = own_outputs(champion_settings, tmp_path)
    settings = settings.model_copy(
        update={"storage": settings.storage.model_copy(update={"url": postgres_url})}
    )
    log_houses(settings, holdout_houses.head(1200), labelled_share=0.5, start=HOUR)
    window = Window(since=HOUR, until=HOUR + timedelta(hours=1))
    result = run_monitor(settings, window)
    assert result.summary.rows.read == 1200
    assert result.summary.labelled == 600
    assert result.summary.verdict == "healthy", result.summary.reasons
    status = latest_status(settings)
    assert status.verdict == "healthy" and status.rows == 1200
