"""``housing tune``: a bounded hyper-parameter search judged by cross-validation only.

Why CV and never the holdout: the holdout is the one fixed yardstick every model version (and
the promotion gate) is compared on; choosing parameters by it would make its figures optimistic
for exactly the model that gets promoted. So each trial runs the same K-fold CV as
``housing train`` (:func:`training.pipeline.cross_validation`) on the training part alone.

Each trial is an MLflow child run under one parent run (experiment ``mlflow.experiment``); the
search itself is Optuna's TPE sampler, seeded by ``tuning.seed``, bounded by ``tuning.trials``
and ``tuning.timeout_s``. The first trial is the configured parameters, so the proposal is
measured against what ships. The result is only a proposal: nothing here writes
``configuration.yaml`` or registers a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from threadpoolctl import threadpool_limits

from housing.config import ConfigError, SearchDimension, Settings
from housing.features import features_from_config
from training.data import load_training_data
from training.estimators import recipe_of
from training.pipeline import cross_validation, split_holdout
from training.publish import experiment_id

PARENT_RUN_NAME = "tune"
TAG_KIND = "housing.kind"


@dataclass(frozen=True)
class TrialResult:
    """One CV run: the full ``model.params`` it used and its CV metrics (``rmse_mean`` ...)."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    run_id: str

    def score(self, metric: str) -> float:
        return self.metrics[f"{metric}_mean"]


@dataclass(frozen=True)
class TuningResult:
    parent_run_id: str
    metric: str
    folds: int
    trials: list[TrialResult]
    seconds: float
    configured_first: bool

    @property
    def configured(self) -> TrialResult | None:
        """Trial 0 when it ran the configured parameters (they lie inside the space)."""
        return self.trials[0] if self.configured_first else None

    @property
    def best(self) -> TrialResult:
        return min(self.trials, key=lambda trial: (trial.score(self.metric), trial.number))


# Called after each trial, e.g. to print a progress line.
TrialCallback = Callable[[TrialResult], None]


def check_space(settings: Settings) -> None:
    """Every searched name must be a parameter of the configured estimator (error names the key)."""
    space = settings.tuning.space
    if not space:
        raise ConfigError("tuning.space: empty, nothing to search")
    features = features_from_config(settings.dataset.features, settings.feature_engineering)
    estimator = recipe_of(settings.model.estimator).build(dict(settings.model.params), features)
    known = estimator.get_params()
    for name in space:
        if name not in known:
            raise ConfigError(
                f"tuning.space.{name}: not a parameter of {settings.model.estimator}"
                f" (one of {', '.join(sorted(known))})"
            )


def with_params(settings: Settings, params: dict[str, Any], folds: int) -> Settings:
    """``settings`` with ``model.params`` and ``split.cv_folds`` replaced (frozen copies)."""
    model = settings.model.model_copy(update={"params": params})
    split = settings.split.model_copy(update={"cv_folds": folds})
    return settings.model_copy(update={"model": model, "split": split})


def _suggest(trial: Any, name: str, dimension: SearchDimension) -> Any:
    if dimension.type == "choice":
        return trial.suggest_categorical(name, dimension.choices)
    assert dimension.low is not None and dimension.high is not None
    if dimension.type == "int":
        return trial.suggest_int(name, int(dimension.low), int(dimension.high), log=dimension.log)
    return trial.suggest_float(name, dimension.low, dimension.high, log=dimension.log)


def _inside(value: Any, dimension: SearchDimension) -> bool:
    if dimension.type == "choice":
        return value in (dimension.choices or [])
    assert dimension.low is not None and dimension.high is not None
    return isinstance(value, int | float) and dimension.low <= value <= dimension.high


def tune(settings: Settings, on_trial: TrialCallback | None = None) -> TuningResult:
    """Search ``tuning.space`` by CV on the training part; log every trial to MLflow.

    The budget is ``tuning.trials``/``timeout_s``/``cv_folds``; the CLI's options override
    them in the settings it passes, like every other setting.
    The configured parameters are trial 0 (when they lie inside the space), so the best trial
    is never worse than what ships, by the CV that judges them all.
    """
    import mlflow
    import optuna

    check_space(settings)
    tuning = settings.tuning
    trials = tuning.trials
    timeout_s = tuning.timeout_s
    folds = tuning.cv_folds or settings.split.cv_folds
    data = load_training_data(settings)
    train, _holdout = split_holdout(data.frame, settings)  # the holdout is never looked at
    base = dict(settings.model.params)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=tuning.seed)
    )
    configured_first = all(_inside(base.get(name), dim) for name, dim in tuning.space.items())
    if configured_first:
        study.enqueue_trial({name: base[name] for name in tuning.space})
    results: list[TrialResult] = []
    mlflow.set_tracking_uri(settings.mlflow.tracking_uri)
    started = time.perf_counter()
    parent_tags = {TAG_KIND: "tune", "dataset": settings.dataset.name, "data_sha256": data.sha256}

    experiment = experiment_id(settings)

    def objective(trial: Any) -> float:
        params = base | {name: _suggest(trial, name, dim) for name, dim in tuning.space.items()}
        with mlflow.start_run(
            experiment_id=experiment, run_name=f"trial-{trial.number}", nested=True
        ) as run:
            with threadpool_limits(settings.model.threads):
                metrics = cross_validation(with_params(settings, params, folds), train).metrics
            mlflow.log_params({f"model.{key}": value for key, value in params.items()})
            mlflow.log_metrics({f"cv_{key}": value for key, value in metrics.items()})
            mlflow.set_tags({TAG_KIND: "tune-trial", "trial": str(trial.number)})
        result = TrialResult(trial.number, params, metrics, run.info.run_id)
        results.append(result)
        if on_trial is not None:
            on_trial(result)
        return result.score(tuning.metric)

    with mlflow.start_run(
        experiment_id=experiment, run_name=PARENT_RUN_NAME, tags=parent_tags
    ) as parent:
        mlflow.log_params(
            {
                "estimator": settings.model.estimator,
                "metric": f"cv_{tuning.metric}_mean",
                "cv_folds": folds,
                "trials_budget": trials,
                "timeout_s": timeout_s if timeout_s is not None else "none",
                "sampler_seed": tuning.seed,
                "train_rows": len(train),
                "space": yaml.safe_dump(
                    {k: v.model_dump(exclude_none=True) for k, v in tuning.space.items()},
                    default_flow_style=True,
                    width=10_000,
                ).strip(),
            }
        )
        study.optimize(objective, n_trials=trials, timeout=timeout_s)
        result = TuningResult(
            parent.info.run_id,
            tuning.metric,
            folds,
            results,
            time.perf_counter() - started,
            configured_first,
        )
        best = result.best
        mlflow.log_params({f"best.{name}": best.params[name] for name in tuning.space})
        mlflow.log_metrics(
            {
                f"best_cv_{tuning.metric}_mean": best.score(tuning.metric),
                "trials_run": len(results),
                "tune_seconds": result.seconds,
            }
        )
        mlflow.set_tag("best_trial_run_id", best.run_id)
    return result


def proposed_change(settings: Settings, result: TuningResult) -> str | None:
    """The ``model.params`` lines to change in ``configuration.yaml``, as YAML with the old
    values in comments; None when the configured parameters are already the best trial."""
    best = result.best
    configured = dict(settings.model.params)
    changed = {
        name: best.params[name]
        for name in settings.tuning.space
        if best.params[name] != configured.get(name)
    }
    if not changed:
        return None
    lines = ["model:", "  params:"]
    for name, value in changed.items():
        text = yaml.safe_dump([value], default_flow_style=True).strip()[1:-1]  # exact value
        line = f"    {name}: {text}"
        old = configured.get(name, "(not set)")
        lines.append(f"{line:<39} # was {old}")
    return "\n".join(lines)
