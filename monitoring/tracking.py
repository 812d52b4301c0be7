"""Publishing a run where people already look: an MLflow run in the monitoring experiment, and
the Evidently snapshot in a local workspace so ``evidently ui --workspace DIR`` shows history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from housing.config import Settings

WORKSPACE_PROJECT = "housing-price monitoring"


def log_to_mlflow(settings: Settings, summary: dict[str, Any], run_dir: Path) -> str:
    """One MLflow run per monitor run: verdict as tags, figures as metrics, files as artifacts."""
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
    metrics = {
        "rows": summary["rows"]["analysed"],
        "labelled": summary["labelled"],
        "drift_share": summary["drift"]["share"],
        "rmse": summary["performance"]["rmse"],
        "mae": summary["performance"]["mae"],
        "mape_percent": summary["performance"]["mape_percent"],
        "bias": summary["performance"]["bias"],
        "coverage": summary["performance"]["coverage"],
        "exit_code": summary["exit_code"],
    }
    for column, info in summary["drift"]["columns"].items():
        metrics[f"drift_score.{column}"] = info["score"]
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"monitor {summary['finished_at'][:19]}"
    ) as run:
        mlflow.set_tags(
            {
                "verdict": summary["verdict"],
                "model_version": str(summary["model_version"]),
                "trigger": summary["trigger"],
                "window": summary["window"]["description"],
                "monitor_run_id": summary["run_id"],
            }
        )
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.log_artifacts(str(run_dir), artifact_path="monitoring")
        return run.info.run_id


def add_to_workspace(settings: Settings, snapshot: Any, name: str) -> str:
    """Append the snapshot to the local Evidently workspace project (created on first use)."""
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(settings.monitoring.workspace_dir))
    found = workspace.search_project(WORKSPACE_PROJECT)
    project = found[0] if found else workspace.create_project(WORKSPACE_PROJECT)
    reference = workspace.add_run(project.id, snapshot, name=name)
    return str(getattr(reference, "id", reference))
