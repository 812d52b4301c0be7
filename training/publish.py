"""Record a trained model in MLflow and the BentoML store, linked both ways.

One call logs the run (params, metrics, tags, config, plots, the sklearn model with signature),
registers a model version, saves the same model into the BentoML store with labels naming that
version and run, and tags the run and version with the BentoML tag. If any step fails, the
version and the BentoML model created so far are removed, so a half-published model never shows
up in ``housing models`` or gets promoted.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import sklearn

from housing import bundle, model_card, registry
from housing.config import Settings
from housing.pricing import PricingModel
from housing.provenance import git_state
from training import plots


@dataclass(frozen=True)
class TrainedModel:
    """What training produced, before it is published.

    ``metrics`` are flat MLflow metric names (``holdout_rmse``, ``cv_rmse_mean``, ...);
    ``card`` holds the facts that go into the model card (the service shows them).
    """

    pricing: PricingModel
    holdout: pd.DataFrame
    reference: pd.DataFrame
    metrics: dict[str, float]
    card: dict[str, Any]
    data_sha256: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registration(bundle.ModelRef):
    """The published version, with the model card written into its bundle."""

    card: dict[str, Any]


def experiment_id(settings: Settings) -> str:
    """The training experiment's id, created (with its artifact location) on first use."""
    mlflow_client = registry.client(settings)
    experiment = mlflow_client.get_experiment_by_name(settings.mlflow.experiment)
    if experiment is not None:
        return experiment.experiment_id
    location = settings.mlflow.artifact_location
    return mlflow_client.create_experiment(
        settings.mlflow.experiment,
        artifact_location=(location / settings.mlflow.experiment).as_uri() if location else None,
    )


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc (skips MLflow's slow inference)."""
    return [
        f"mlflow=={importlib.metadata.version('mlflow')}",
        f"pydantic=={importlib.metadata.version('pydantic')}",
        f"pyyaml=={importlib.metadata.version('pyyaml')}",
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]


def _log_plots(trained: TrainedModel, settings: Settings, directory: Path) -> list[Path]:
    estimates = trained.pricing.predict(trained.holdout)
    actual = trained.holdout[settings.dataset.target].to_numpy(dtype=float)
    rmse = trained.metrics.get("holdout_rmse", float("nan"))
    title = f"{settings.dataset.name} holdout (RMSE {rmse:,.0f})"
    return [
        plots.predicted_vs_actual(actual, estimates, directory / "predicted_vs_actual.png", title),
        plots.residuals(actual, estimates, directory / "residuals.png", title),
    ]


def publish(
    settings: Settings,
    trained: TrainedModel,
    *,
    reason: str,
    tags: dict[str, str] | None = None,
) -> Registration:
    """Log, register and save ``trained``; returns the new version, run id and BentoML tag."""
    import bentoml
    import mlflow
    import mlflow.pyfunc

    from housing import pyfunc

    mlflow.set_tracking_uri(settings.mlflow.tracking_uri)
    mlflow_client = registry.client(settings)
    name = settings.mlflow.registered_model
    git = git_state(settings.root)
    commit, dirty = git.commit, git.dirty
    run_tags = {
        "reason": reason,
        "dataset": settings.dataset.name,
        "data_sha256": trained.data_sha256,
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        **(tags or {}),
    }
    version: int | None = None
    bento_tag: str | None = None
    with mlflow.start_run(experiment_id=experiment_id(settings), tags=run_tags) as run:
        try:
            mlflow.log_params(trained.params)
            mlflow.log_metrics(trained.metrics)
            mlflow.log_dict(settings.model_dump(mode="json"), "config/configuration.json")
            plot_images: dict[str, str] = {}  # embedded in the model card
            with tempfile.TemporaryDirectory(prefix="housing-plots-") as tmp:
                for path in _log_plots(trained, settings, Path(tmp)):
                    mlflow.log_artifact(str(path), "plots")
                    plot_images[path.stem] = base64.b64encode(path.read_bytes()).decode("ascii")
            with tempfile.TemporaryDirectory(prefix="housing-pyfunc-") as tmp:
                pickled = Path(tmp) / bundle.MODEL_FILE
                with pickled.open("wb") as handle:
                    cloudpickle.dump(trained.pricing, handle)
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=pyfunc.PricingPyfunc(),
                    artifacts={pyfunc.ARTIFACT: str(pickled)},
                    code_paths=[str(Path(pyfunc.__file__).parent)],  # the `housing` package
                    signature=pyfunc.signature(settings),
                    input_example=trained.holdout[settings.feature_names].head(5),
                    pip_requirements=_requirements(),
                    registered_model_name=name,
                )
            version = int(info.registered_model_version)
            card = {
                **trained.card,
                "reason": reason,
                "data_sha256": trained.data_sha256,
                "git_commit": commit,
                "git_dirty": dirty,
                model_card.PLOTS_KEY: plot_images,
                "mlflow": {
                    "registered_model": name,
                    "version": version,
                    "run_id": run.info.run_id,
                    "tracking_uri": settings.mlflow.tracking_uri,
                },
            }
            labels = {
                bundle.LABEL_VERSION: str(version),
                bundle.LABEL_RUN: run.info.run_id,
                bundle.LABEL_REGISTERED: name,
                bundle.LABEL_DATA: trained.data_sha256,
                bundle.LABEL_STAGE: registry.STAGE_CHALLENGER,
                "dataset": settings.dataset.name,
            }
            metadata = {
                "mlflow_version": version,
                "mlflow_run_id": run.info.run_id,
                "trained_at": card.get("trained_at", ""),
                "metrics": dict(trained.metrics),
                "features": list(settings.feature_names),
                "target": settings.dataset.target,
                "coverage": trained.pricing.coverage,
                "log_halfwidth": trained.pricing.log_halfwidth,
            }
            with bentoml.models.create(
                settings.bentoml.model_name, labels=labels, metadata=metadata
            ) as bento_model:
                bento_tag = str(bento_model.tag)
                card["bento_tag"] = bento_tag
                card = model_card.with_history(settings, card, engine=None)
                page = model_card.render_html(card)
                bundle.write_bundle(
                    Path(bento_model.path), trained.pricing, trained.reference, card, page
                )
            with tempfile.TemporaryDirectory(prefix="housing-bundle-") as tmp:
                bundle.write_bundle(Path(tmp), trained.pricing, trained.reference, card, page)
                mlflow.log_artifacts(tmp, bundle.BUNDLE_ARTIFACT_DIR)
            mlflow.set_tag(bundle.TAG_BENTO, bento_tag)
            mlflow_client.set_model_version_tag(name, str(version), bundle.TAG_BENTO, bento_tag)
            mlflow_client.update_model_version(name, str(version), description=reason)
            if run_tags.get("promotion_decision") == "challenger":  # the gate said no
                registry.reject(settings, version, run_tags.get("promotion_reason", reason))
        except BaseException:
            _undo(settings, version, bento_tag)
            raise
    return Registration(version=version, run_id=run.info.run_id, bento_tag=bento_tag, card=card)


def _undo(settings: Settings, version: int | None, bento_tag: str | None) -> None:
    """Remove what a failed publish created, best effort (the original error matters more)."""
    if version is not None:
        with contextlib.suppress(Exception):
            registry.client(settings).delete_model_version(
                settings.mlflow.registered_model, str(version)
            )
    if bento_tag is not None:
        with contextlib.suppress(Exception):
            import bentoml

            bentoml.models.delete(bento_tag)
