"""Publishing a run where people already look: an MLflow run in the monitoring experiment, and
the Evidently snapshot in a local workspace so ``evidently ui --workspace DIR`` shows history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from housing.config import Settings
from housing.run_summary import RunSummary

WORKSPACE_PROJECT = "housing-price monitoring"


def log_to_mlflow(settings: Settings, summary: RunSummary, run_dir: Path) -> str:
    """One MLflow run per monitor run, named ``<verdict> <time> <id>`` so the runs list shows
    the verdict; verdict and reasons as tags, every judged figure as a metric, files as
    artifacts."""
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow.tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.mlflow.monitoring_experiment)
    if experiment is None:
        location = settings.mlflow.artifact_location
        experiment_id = mlflow.create_experiment(
            settings.mlflow.monitoring_experiment,
            artifact_location=location.as_uri() if location else None,
        )
    else:
        experiment_id = experiment.experiment_id
    with mlflow.start_run(experiment_id=experiment_id, run_name=summary.title) as run:
        mlflow.set_tags(
            {
                "verdict": summary.verdict.value,
                "drift_check": summary.drift.status.value,
                "performance_check": summary.performance.status.value,
                "model_version": str(summary.model_version),
                "trigger": summary.trigger,
                "window": summary.window.description,
                "monitor_run_id": summary.run_id,
                "reasons": "; ".join(summary.reasons)[:5000],
            }
        )
        mlflow.log_metrics(summary.metrics())
        mlflow.log_artifacts(str(run_dir), artifact_path="monitoring")
        return run.info.run_id


def add_to_workspace(settings: Settings, snapshot: Any | None, summary: RunSummary) -> str:
    """Append the run to the local Evidently workspace project (created on first use).

    The run's snapshot (or, for a run without one, a snapshot of its verdict figures alone)
    gets the summary's figures as metrics (:mod:`monitoring.dashboard`), so the project's
    panels, kept on the project's dashboard here, plot every run. Writes files through
    Evidently's file layout (``LocalState``) instead of opening a ``Workspace``, which parses
    every stored snapshot first (+56 ms and +3.6 MB per past run, measured in issue 13):
    adding a run costs the same with 1 or 1,000 runs in history. ``evidently ui --workspace
    DIR`` reads the files as usual.
    """
    from evidently.legacy.core import new_id
    from evidently.sdk.models import ProjectModel
    from evidently.ui.storage.local.base import LocalState

    from monitoring.dashboard import ensure_panels, figures_snapshot

    settings.monitoring.workspace_dir.mkdir(parents=True, exist_ok=True)
    state = LocalState(str(settings.monitoring.workspace_dir))
    projects = [state.read_project(p) for p in state.list_projects()]
    project = next((p for p in projects if p.name == WORKSPACE_PROJECT), None)
    if project is None:
        project = state.write_project(ProjectModel(name=WORKSPACE_PROJECT))
    dashboard = ensure_panels(state.read_dashboard(project.id))
    if dashboard is not None:
        state.write_dashboard(project.id, dashboard)
    figures = figures_snapshot(summary).to_snapshot_model()
    model = figures if snapshot is None else _with_figures(snapshot.to_snapshot_model(), figures)
    model.name = summary.title
    model.tags = sorted({*model.tags, "housing-monitor", summary.verdict.value})
    model.metadata = {
        **model.metadata,
        "verdict": summary.verdict.value,
        "monitor_run_id": summary.run_id,
        "model_version": str(summary.model_version),
    }
    snapshot_id = new_id()
    state.write_snapshot(project.id, snapshot_id, model)
    return str(snapshot_id)


def _with_figures(model: Any, figures: Any) -> Any:
    """The run's snapshot with the figures' results first (the UI's run view opens on them)."""
    model.metric_results = {**figures.metric_results, **model.metric_results}
    model.top_level_metrics = [*figures.top_level_metrics, *model.top_level_metrics]
    model.widgets = [*figures.widgets, *model.widgets]
    return model
