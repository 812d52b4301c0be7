"""``housing monitor`` and ``housing schedule`` as a user runs them: real subprocesses."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from housing.store.database import open_log
from housing.store.monitor_status import latest_status
from housing.store.tables import monitoring_runs
from monitoring.scheduler import JOBS_TABLE, persisted_next_run
from support.processes import stop_process
from tests.fixtures.monitoring import HOUSING, housing_env, log_houses, own_outputs, run_housing

UI_STOP_TIMEOUT_S = 30.0


@pytest.fixture
def settings(champion_settings, tmp_path):
    return own_outputs(champion_settings, tmp_path)


def test_bad_window_is_one_line_and_exit_2(settings) -> None:
    done = run_housing(settings, "monitor", "--since", "yesterday")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --since: 'yesterday' is not an ISO-8601 timestamp"
    ]


def test_drifted_window_exits_3_and_names_the_verdict(settings, holdout_houses) -> None:
    inland = holdout_houses[holdout_houses["ocean_proximity"] == "INLAND"]
    log_houses(settings, inland.sample(1000, random_state=8), labelled_share=0.0)
    done = run_housing(settings, "monitor", "--last", "1000")
    assert done.returncode == 3, done.stderr
    assert "drift" in done.stdout and "ocean_proximity" in done.stdout
    assert latest_status(settings).verdict == "drift"


def test_tiny_window_shows_no_drift_figures_it_did_not_judge(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.head(4))
    done = run_housing(settings, "monitor", "--last", "4")
    assert done.returncode == 0, done.stderr
    assert "insufficient_data" in done.stdout
    assert "drift not judged" in done.stdout
    assert "drift share" not in done.stdout and "drifted" not in done.stdout


def _start_scheduler(settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HOUSING, "schedule", *args],
        env=housing_env(settings, monitoring__schedule__interval_minutes=60),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "scheduler stopped" in output
    return output


def test_scheduler_runs_the_monitor_and_stops_cleanly_on_sigterm(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.head(300))
    process = _start_scheduler(settings, "--now")
    try:
        deadline = time.monotonic() + 240
        while latest_status(settings) is None:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the scheduled monitor run never finished"
            time.sleep(0.5)
        _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    engine = open_log(settings)
    with engine.connect() as connection:
        assert inspect(connection).has_table(JOBS_TABLE)
        runs = connection.execute(select(monitoring_runs.c.summary)).all()
    next_run = persisted_next_run(engine)
    assert len(runs) == 1 and runs[0].summary["trigger"] == "schedule"
    assert 55 * 60 < (next_run - datetime.now(UTC)).total_seconds() <= 60 * 60

    # A restart keeps the stored next run time: no extra run, no skipped run, not paused.
    process = _start_scheduler(settings)
    try:
        line = process.stdout.readline()
        while "scheduler started" not in line:
            assert line, "the scheduler exited before starting"
            line = process.stdout.readline()
        _stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert persisted_next_run(engine) == next_run
    with engine.connect() as connection:
        assert len(connection.execute(select(monitoring_runs.c.run_id)).all()) == 1
    engine.dispose()


def test_ui_serves_the_workspace_history(settings, holdout_houses) -> None:

    import httpx

    from monitoring.dashboard import project_panels
    from monitoring.monitor import run_monitor
    from monitoring.window import resolve_window
    from support.processes import free_server_port

    log_houses(settings, holdout_houses.head(300))
    first = run_monitor(settings, resolve_window(settings)).summary.title
    second = run_monitor(settings, resolve_window(settings)).summary.title
    port = free_server_port()
    process = subprocess.Popen(
        [HOUSING, "ui", "--port", str(port)],
        env=housing_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                projects = httpx.get(f"http://127.0.0.1:{port}/api/projects", timeout=5).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "evidently ui never answered"
                time.sleep(0.5)
        project = next(p for p in projects if p["name"] == "housing-price monitoring")
        runs = httpx.get(
            f"http://127.0.0.1:{port}/api/projects/{project['id']}/snapshots", timeout=10
        ).json()
        names = {run["name"] for run in runs}
        assert first.startswith("insufficient_data ")
        assert {first, second} <= names
        # The dashboard opens on the project's panels (made once, though two runs passed),
        # and the UI serves their series: the verdict of both runs.
        dashboard = httpx.get(
            f"http://127.0.0.1:{port}/api/v2/dashboards/{project['id']}", timeout=10
        ).json()
        titles = [panel["title"] for panel in dashboard["panels"]]
        assert titles == [panel.title for panel in project_panels()]
        verdicts = next(p for p in dashboard["panels"] if p["title"] == "Verdict per run")
        filters = [
            {key: value[key] for key in ("tags", "metadata", "metric", "metric_labels")}
            for value in verdicts["values"]
        ]
        data = httpx.post(
            f"http://127.0.0.1:{port}/api/v2/snapshots/{project['id']}/data_series_batch",
            json={"series_filter": filters},
            timeout=10,
        ).json()
        series = {item["params"]["figure"]: item["values"] for item in data["series"]}
        assert series["verdict.insufficient_data"] == [1.0, 1.0]
        assert series["verdict.healthy"] == [0.0, 0.0]
    finally:
        stop_process(process, UI_STOP_TIMEOUT_S, whole_group=True)


def test_simulate_unknown_scenario_is_one_line_and_exit_2(settings) -> None:
    done = run_housing(settings, "simulate", "--scenario", "boom", "--rows", "10")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown scenario 'boom' (configured:")
