"""The monitor over a real SQLite log, a real MLflow registry and the champion's reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from housing.store.database import open_log
from housing.store.monitor_status import latest_status
from monitoring.monitor import run_monitor
from monitoring.window import Window, resolve_window
from tests.fixtures.monitoring import log_houses, own_outputs


@pytest.fixture
def settings(champion_settings, tmp_path):
    return own_outputs(champion_settings, tmp_path)


def test_undrifted_labelled_traffic_is_healthy_and_published(settings, holdout_houses) -> None:
    import mlflow

    log_houses(settings, holdout_houses.sample(1200, random_state=3), labelled_share=0.5)
    result = run_monitor(settings, resolve_window(settings))
    summary = result.summary
    assert summary.verdict == "healthy", summary.reasons
    assert result.exit_code == 0
    assert summary.rows.analysed == 1200 and summary.labelled == 600
    assert summary.performance.reference_rmse > 0
    assert summary.performance.min_labels < 600
    assert 0.75 < summary.performance.coverage <= 1.0
    # Files: the report, the JSON summary, and an index that links the run.
    assert result.report_path.stat().st_size > 100_000
    assert json.loads(result.summary_path.read_text())["run_id"] == summary.run_id
    index = (settings.monitoring.reports_dir / "index.html").read_text()
    assert result.report_path.parent.name in index and "healthy" in index
    # MLflow: a run in the monitoring experiment with the verdict and the report.
    run = mlflow.MlflowClient(settings.mlflow.tracking_uri).get_run(result.mlflow_run_id)
    assert run.data.tags["verdict"] == "healthy"
    assert run.info.run_name.startswith("healthy ")
    assert run.data.metrics["labelled"] == 600
    artifacts = mlflow.MlflowClient(settings.mlflow.tracking_uri).list_artifacts(
        result.mlflow_run_id, "monitoring"
    )
    assert {"monitoring/report.html", "monitoring/summary.json"} <= {a.path for a in artifacts}
    # Evidently workspace and the status the service turns into gauges.
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(settings.monitoring.workspace_dir))
    (project,) = workspace.search_project("housing-price monitoring")
    (snapshot_id,) = workspace.list_runs(project.id)
    assert workspace.get_run(project.id, snapshot_id).name == summary.title
    _assert_dashboard_plots_the_summary(settings, project.id, snapshot_id, summary)
    status = latest_status(settings)
    assert status.verdict == "healthy" and status.labelled == 600


def _assert_dashboard_plots_the_summary(settings, project_id, snapshot_id, summary) -> None:
    """The project's panels are on the dashboard, and every figure they plot is a metric of
    the run's snapshot holding the summary's own value (nothing recomputed)."""
    from evidently.ui.storage.local.base import LocalState

    from monitoring.dashboard import FIGURE_METRIC, project_panels

    state = LocalState(str(settings.monitoring.workspace_dir))
    dashboard = state.read_dashboard(project_id)
    assert [p.title for p in dashboard.panels] == [p.title for p in project_panels()]
    plotted = [value for panel in dashboard.panels for value in panel.values]
    assert {value.metric for value in plotted} == {f"evidently:metric_v2:{FIGURE_METRIC}"}
    stored = state.read_snapshot(project_id, snapshot_id)
    figures = {
        result.metric_value_location.metric.params["figure"]: result.value
        for result in stored.metric_results.values()
        if result.metric_value_location.metric.params["type"].endswith(f":{FIGURE_METRIC}")
    }
    # A healthy run judged everything: each plotted figure is in the snapshot.
    assert {value.metric_labels["figure"] for value in plotted} <= set(figures)
    checks = {check.name: check for check in summary.checks}
    assert figures["verdict.healthy"] == 1.0 and figures["verdict.drift"] == 0.0
    assert figures["drift_share"] == summary.drift.share
    assert figures["drift_share.limit"] == summary.drift.share_threshold
    for name in ("rms_log_error_ratio", "bias", "coverage", "refused_share"):
        assert figures[name] == checks[name].value
        assert figures[f"{name}.limit"] == checks[name].limit
    assert figures["rms_log_error_ratio.low"] == checks["rms_log_error_ratio"].low
    assert figures["coverage.nominal"] == summary.performance.coverage_level
    # The run's own Evidently metrics are still there, after the figures.
    assert len(stored.metric_results) > len(figures)


def test_prices_that_moved_are_degraded_with_exit_code_3(settings, holdout_houses) -> None:
    inland = holdout_houses[holdout_houses["ocean_proximity"] == "INLAND"]
    log_houses(settings, inland.sample(1000, random_state=4), price_factor=1.6)
    result = run_monitor(settings, resolve_window(settings))
    assert result.summary.verdict == "degraded", result.summary.reasons
    assert result.exit_code == 3
    assert result.summary.drift.status == "drift"
    assert "ocean_proximity" in result.summary.drift.drifted_features
    assert latest_status(settings).verdict == "degraded"


def test_too_few_labels_still_checks_drift(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.sample(1200, random_state=5), labelled_share=0.05)
    summary = run_monitor(settings, resolve_window(settings)).summary
    assert summary.labelled == 60
    assert summary.performance.status == "insufficient_data"
    assert summary.drift.status == "healthy"
    assert summary.verdict == "insufficient_data"


def test_empty_window_is_a_clear_outcome(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.head(200))
    future = datetime.now(UTC) + timedelta(days=1)
    result = run_monitor(settings, Window(since=future))
    assert result.summary.verdict == "insufficient_data"
    assert result.exit_code == 0
    assert any("no predictions in the window" in note for note in result.summary.notes)
    assert "no predictions in the window" in result.report_path.read_text()


def test_rows_of_a_version_without_reference_are_set_aside(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.head(300), start=datetime.now(UTC) - timedelta(hours=3))
    log_houses(settings, holdout_houses.tail(50), version="42")  # newer rows, unknown version
    summary = run_monitor(settings, resolve_window(settings)).summary
    assert summary.model_version == "1"
    assert summary.rows.analysed == 300
    assert any("50 rows of model version 42 skipped" in n for n in summary.notes)


def test_only_rows_without_reference_is_insufficient_data(settings, holdout_houses) -> None:
    log_houses(settings, holdout_houses.head(200), version="42")
    result = run_monitor(settings, resolve_window(settings))
    assert result.summary.verdict == "insufficient_data"
    assert any("has a reference" in r for r in result.summary.reasons)


def test_corrupted_feedback_rows_are_ignored_and_counted(settings, holdout_houses) -> None:
    ids = log_houses(settings, holdout_houses.head(1200), labelled_share=1.0)
    engine = open_log(settings)
    with engine.begin() as connection:  # what a broken upstream job could leave behind
        connection.execute(
            text("UPDATE feedback SET actual_price = 'n/a' WHERE prediction_id = :id"),
            {"id": ids[0]},
        )
        connection.execute(
            text("UPDATE feedback SET actual_price = -1 WHERE prediction_id = :id"), {"id": ids[1]}
        )
        connection.execute(
            text("UPDATE predictions SET features = '\"oops\"' WHERE prediction_id = :id"),
            {"id": ids[2]},
        )
    engine.dispose()
    summary = run_monitor(settings, resolve_window(settings)).summary
    assert summary.invalid_feedback == 2
    assert summary.rows.unreadable == 1
    assert summary.labelled == 1197
    assert summary.verdict == "healthy"
