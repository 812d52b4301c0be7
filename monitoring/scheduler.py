"""``housing schedule``: the monitor (and retraining when the policy says so) on a timer.

APScheduler 3 with its job store in the log database, so a restarted scheduler keeps its next
run time and two schedulers never disagree about the job. Runs are coalesced and never overlap
(``max_instances=1``); SIGTERM/SIGINT stop the scheduler after a running job finishes.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from housing.config import Settings, load_config

JOB_ID = "housing-monitor"
JOBS_TABLE = "scheduler_jobs"

log = logging.getLogger("housing.schedule")


def monitor_job(config_path: str) -> int:
    """The scheduled job; module-level and given only a path so the job store can persist it.

    The configuration is re-read on every run, so an edited threshold applies to the next run.
    """
    from monitoring.loop import monitor_and_act
    from monitoring.window import resolve_window

    settings = load_config(config_path)
    outcome = monitor_and_act(
        settings,
        resolve_window(settings),
        trigger="schedule",
        retrain=settings.monitoring.schedule.retrain_on_alert,
        build=settings.retrain.build_bento,
    )
    result = outcome.monitor
    log.info(
        "monitor run %s: verdict %s (exit %d), report %s",
        result.summary.run_id,
        result.summary.verdict.value,
        result.exit_code,
        result.report_path,
    )
    if outcome.retrain is not None:
        log.info("retrain: %s", outcome.retrain.describe())
    return outcome.exit_code


def _trigger(settings: Settings) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    schedule = settings.monitoring.schedule
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone="UTC")
    return IntervalTrigger(minutes=schedule.interval_minutes, timezone="UTC")


def build_scheduler(settings: Settings, config_path: Path, *, run_now: bool = False) -> Any:
    """A BackgroundScheduler with the monitor job stored in the log database."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.util import undefined

    from housing.store.database import open_log

    engine = open_log(settings)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone="UTC",
    )
    # ``undefined`` lets the trigger decide; None would add the job paused.
    next_run = datetime.now(UTC) if run_now else (persisted_next_run(engine) or undefined)
    scheduler.add_job(
        monitor_job,
        trigger=_trigger(settings),
        args=[str(config_path)],
        id=JOB_ID,
        name="monitor the prediction log",
        replace_existing=True,
        next_run_time=next_run,
    )
    return scheduler


def persisted_next_run(engine: Any) -> datetime | None:
    """The next run time a previous scheduler stored, so a restart neither skips nor repeats.

    A time already past (the scheduler was down) makes the job run once right away (coalesced).
    """
    from sqlalchemy import MetaData, Table, inspect, select

    if not inspect(engine).has_table(JOBS_TABLE):
        return None
    table = Table(JOBS_TABLE, MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        value = connection.execute(
            select(table.c.next_run_time).where(table.c.id == JOB_ID)
        ).scalar()
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def run_until_signalled(
    settings: Settings, config_path: Path, *, run_now: bool, on_start: Callable[[Any], None]
) -> None:
    """Start the scheduler and block until SIGTERM/SIGINT; a running job is allowed to finish."""
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping after the running job", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = build_scheduler(settings, config_path, run_now=run_now)
    scheduler.add_listener(_log_event, _job_events())
    scheduler.start()
    try:
        on_start(scheduler)
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("scheduler stopped")


def _job_events() -> int:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

    return EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


def _log_event(event: Any) -> None:
    if getattr(event, "exception", None):
        log.error("monitor job failed: %s: %s", type(event.exception).__name__, event.exception)
    elif hasattr(event, "retval"):
        log.info("monitor job finished with exit code %s", event.retval)
    else:
        log.warning("monitor job missed its run time %s", event.scheduled_run_time)
