"""``housing tune`` as users run it: a real subprocess, a real MLflow store, a bounded search."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import yaml
from mlflow import MlflowClient

from tests.fixtures.training import CONFIG, settings_env
from tests.integration.test_training_cli import ROOT, assert_one_line_error, housing

ROWS = 1500
MARKER = "(not written):"


def _small_env(tmp_path: Path) -> dict[str, str]:
    """A small CSV and a deliberately underfitted configured model (20 rounds at lr 0.02, inside
    the default space), so a search of two trials has something to improve on."""
    data = pd.read_csv(ROOT / "data" / "california_housing.csv", nrows=ROWS)
    path = tmp_path / "houses.csv"
    data.to_csv(path, index=False)
    return settings_env(
        tmp_path,
        dataset__path=path,
        model__params__max_iter=20,
        model__params__learning_rate=0.02,
        split__cv_jobs=1,
    )


def test_tune_logs_child_runs_and_proposes_a_change_without_writing_it(tmp_path: Path) -> None:
    before = hashlib.sha256(CONFIG.read_bytes()).hexdigest()
    result = housing("tune", "--trials", "2", "--folds", "2", env=_small_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(CONFIG.read_bytes()).hexdigest() == before

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("housing-price")
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if run.data.tags.get("housing.kind") == "tune"]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2
    assert all("cv_rmse_mean" in child.data.metrics for child in children)
    assert all(child.data.params["model.max_iter"] == "20" for child in children)
    # CV on the training part only: 80% of the rows, the holdout is never scored.
    assert parent.data.params["train_rows"] == str(int(ROWS * 0.8))
    assert not client.search_registered_models()  # tuning registers nothing

    snippet = result.stdout.split(MARKER, 1)[1]
    proposal = yaml.safe_load(snippet)["model"]["params"]
    best = min(children, key=lambda child: child.data.metrics["cv_rmse_mean"])
    assert best.data.tags["trial"] != "0"  # trial 0 is the configured, underfitted model
    assert proposal
    for name, value in proposal.items():
        assert name in {"learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization"}
        assert float(best.data.params[f"model.{name}"]) == value
    assert parent.data.tags["best_trial_run_id"] == best.info.run_id


def test_bad_tune_options_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    env = settings_env(tmp_path)
    assert_one_line_error(housing("tune", "--trials", "0", env=env), "--trials", "at least 1")
    assert_one_line_error(housing("tune", "--folds", "1", env=env), "--folds", "at least 2")
    assert not (tmp_path / "mlflow.db").exists()


def test_a_searched_name_the_estimator_lacks_is_one_line(tmp_path: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    config["tuning"]["space"]["learning_rat"] = {"type": "float", "low": 0.01, "high": 0.1}
    path = tmp_path / "configuration.yaml"
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "data").symlink_to(ROOT / "data")
    result = housing("--config", str(path), "tune", "--trials", "1", env=settings_env(tmp_path))
    assert_one_line_error(result, "tuning.space.learning_rat", "not a parameter")
