"""The training job: validate -> split -> cross-validate -> fit + calibrate -> evaluate ->
publish (MLflow + BentoML) -> promotion gate.

Two levels so retraining reuses it without copying code:

* :func:`train_model` fits and evaluates a model from given frames (optionally weighted) and
  returns a :class:`~training.publish.TrainedModel`; nothing is logged yet.
* :func:`run_training` is ``housing train``: the configured data, then publish and the gate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from housing import model_card, registry
from housing.config import Settings
from training.data import load_training_data
from training.intervals import conditional_coverage, coverage_metrics
from training.pipeline import (
    cross_validate_and_fit,
    evaluate,
    fit_pricing_model,
    reference_sample,
    split_holdout,
)
from training.promotion import PromotionDecision, decide, score_champion
from training.publish import Registration, TrainedModel, publish

# Called with a short description when a step starts; the CLI turns it into rich progress.
StepCallback = Callable[[str], None]

TRAINING_STEPS = (
    "validating data",
    "cross-validating",
    "fitting and calibrating",
    "evaluating on the holdout",
    "checking promotion",
    "logging to MLflow and saving to BentoML",
)


def _silent(_: str) -> None:
    return None


@dataclass(frozen=True)
class TrainingOutcome:
    trained: TrainedModel
    registration: Registration
    decision: PromotionDecision
    seconds: float


def model_params(settings: Settings) -> dict[str, object]:
    """Flat MLflow params describing how the model was built."""
    params: dict[str, object] = {
        "estimator": settings.model.estimator,
        "log_target": settings.model.log_target,
        "holdout_fraction": settings.split.holdout_fraction,
        "interval_method": settings.intervals.method,
        "interval_mondrian": settings.intervals.mondrian.column
        if settings.intervals.mondrian
        else "none",
        "seed": settings.split.seed,
        "cv_folds": settings.split.cv_folds,
        "stratify": settings.split.stratify.column if settings.split.stratify else "none",
        "interval_coverage": settings.intervals.coverage,
        "features": ",".join(settings.feature_names),
        "ratios": ",".join(r.name for r in settings.feature_engineering.ratios) or "none",
    }
    rotation = settings.feature_engineering.rotated_coordinates
    params["rotation_angles"] = (
        ",".join(f"{a:g}" for a in rotation.angles_deg) if rotation else "none"
    )
    places = settings.feature_engineering.distances_to
    params["distances_to"] = ",".join(places.places) if places else "none"
    neighbours = settings.feature_engineering.neighbour_prices
    params["neighbour_k"] = ",".join(str(k) for k in neighbours.k) if neighbours else "none"
    params.update({f"model.{key}": value for key, value in settings.model.params.items()})
    return params


def train_model(
    settings: Settings,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    data_sha256: str,
    sample_weight: np.ndarray | None = None,
    on_step: StepCallback = _silent,
) -> TrainedModel:
    """Cross-validate on ``train``, fit + calibrate on it, evaluate on ``holdout``.

    ``train``/``holdout`` are typed frames (see :func:`housing.validation.validate_frame`) with
    the features and the target. ``sample_weight`` aligns with ``train``. Deterministic for
    the same inputs and configuration.
    """
    started = time.perf_counter()
    with threadpool_limits(settings.model.threads):
        on_step("cross-validating")
        cross, served = cross_validate_and_fit(settings, train, sample_weight)
        cv = cross.metrics
        on_step("fitting and calibrating")
        pricing = fit_pricing_model(settings, train, cross, sample_weight, pipeline=served)
        on_step("evaluating on the holdout")
        holdout_metrics = evaluate(pricing, holdout, settings.dataset.target)
        groups = conditional_coverage(settings, pricing, holdout, train)
        reference = reference_sample(settings, pricing, [holdout])
    seconds = time.perf_counter() - started
    metrics = {f"holdout_{k}": v for k, v in holdout_metrics.items()}
    metrics |= {f"cv_{k}": v for k, v in cv.items()}
    metrics |= coverage_metrics(groups)
    metrics["calibration_log_halfwidth"] = pricing.log_halfwidth
    metrics["fit_seconds"] = seconds
    card = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": {
            "name": settings.dataset.name,
            "path": str(settings.dataset.path),
            "sha256": data_sha256,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "weighted": sample_weight is not None,
        },
        "target": settings.dataset.target,
        "target_unit": settings.dataset.target_unit,
        "features": {
            name: spec.model_dump(mode="json") for name, spec in settings.dataset.features.items()
        },
        "estimator": settings.model.estimator,
        "holdout": holdout_metrics,
        "cv": cv,
        "calibration": {
            "coverage": pricing.coverage,
            "method": settings.intervals.method,
            "scores": "out-of-fold residuals of the cross-validation",
            "log_halfwidth": pricing.log_halfwidth,
            "mondrian": settings.intervals.mondrian.column if settings.intervals.mondrian else None,
            "group_log_halfwidths": dict(pricing.group_halfwidths),
            "rows": len(train),
        },
        "conditional_coverage": groups,
        "reference_rows": len(reference),
        "fit_seconds": round(seconds, 2),
    }
    params = model_params(settings) | {
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "fit_rows": len(train),
        "calibration_rows": len(train),
        "sample_weighted": sample_weight is not None,
    }
    return TrainedModel(
        pricing=pricing,
        holdout=holdout,
        reference=reference,
        metrics=metrics,
        card=card,
        data_sha256=data_sha256,
        params=params,
    )


def run_training(
    settings: Settings,
    *,
    force: bool = False,
    reason: str = "manual training",
    tags: dict[str, str] | None = None,
    on_step: StepCallback = _silent,
) -> TrainingOutcome:
    """``housing train``: everything, from the configured CSV to the promotion decision.

    Data validation happens first: a :class:`~housing.validation.DataValidationError` leaves
    MLflow and BentoML untouched.
    """
    started = time.perf_counter()
    on_step("validating data")
    data = load_training_data(settings)
    train, holdout = split_holdout(data.frame, settings)
    trained = train_model(settings, train, holdout, data_sha256=data.sha256, on_step=on_step)
    on_step("checking promotion")
    try:
        with threadpool_limits(settings.model.threads):
            champion = score_champion(settings, holdout)
        champion_error = None
    except registry.RegistryError as exc:
        champion, champion_error = None, str(exc)
    if champion_error and not force:
        decision = PromotionDecision(
            False, champion_error, settings.promotion.metric, trained.metrics["holdout_rmse"]
        )
    else:
        challenger_score = trained.metrics[f"holdout_{settings.promotion.metric}"]
        decision = decide(challenger_score, champion, settings.promotion, force=force)
    on_step("logging to MLflow and saving to BentoML")
    gate_tags = {"promotion_decision": "promoted" if decision.promote else "challenger"}
    gate_tags["promotion_reason"] = decision.reason[:5000]
    if force:
        gate_tags["forced"] = "true"
    registration = publish(settings, trained, reason=reason, tags={**gate_tags, **(tags or {})})
    if decision.promote:
        registry.promote(settings, registration.version, decision.reason)
    # The card as published predates the gate's tags and the promotion: write it again.
    model_card.refresh(settings, registration, engine=None)
    return TrainingOutcome(
        trained=trained,
        registration=registration,
        decision=decision,
        seconds=time.perf_counter() - started,
    )
