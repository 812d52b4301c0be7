"""The configuration file is the product's contract with its users: typos must fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli import app
from housing.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configuration.yaml"


def _write_config(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "configuration.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_configuration_loads_with_paths_anchored_to_the_file() -> None:
    settings = load_config(CONFIG, environ={})
    assert settings.dataset.path == ROOT / "data" / "california_housing.csv"
    assert settings.mlflow.tracking_uri == f"sqlite:///{ROOT}/var/mlflow/mlflow.db"
    assert settings.storage.url == f"sqlite:///{ROOT}/var/predictions.db"
    assert settings.bentoml.home == ROOT / "var" / "bentoml"
    assert "median_income" in settings.feature_names


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["service"].update(prot=3000))
    with pytest.raises(ConfigError, match=r"service\.prot: unknown key"):
        load_config(path, environ={})


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["dataset"].pop("target"))
    with pytest.raises(ConfigError, match=r"dataset\.target: missing key"):
        load_config(path, environ={})


def test_bad_value_is_named_with_the_reason(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["split"].update(holdout_fraction=1.5))
    with pytest.raises(ConfigError, match=r"split\.holdout_fraction: .*less than 1"):
        load_config(path, environ={})


def test_inconsistent_feature_spec_is_rejected(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:
        raw["dataset"]["features"]["median_income"].update(min=10, max=1)

    path = _write_config(tmp_path, mutate)
    with pytest.raises(ConfigError, match=r"dataset\.features\.median_income.*greater than"):
        load_config(path, environ={})


def test_cross_reference_to_unknown_feature_is_rejected(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["split"]["stratify"].update(column="income"))
    with pytest.raises(ConfigError, match=r"stratify\.column 'income'"):
        load_config(path, environ={})


def test_environment_overrides_nested_values_with_types() -> None:
    environ = {
        "HOUSING_SERVICE__PORT": "4000",
        "HOUSING_SERVICE__FEEDBACK__ALLOW_UNAUTHENTICATED": "true",
        "HOUSING_DATASET__FEATURES__MEDIAN_INCOME__MAX": "25",
        "HOUSING_STORAGE__URL": "postgresql+psycopg://u:p@127.0.0.1/db",
    }
    settings = load_config(CONFIG, environ=environ)
    assert settings.service.port == 4000
    assert settings.service.feedback.allow_unauthenticated is True
    assert settings.dataset.features["median_income"].max == 25
    assert settings.storage.url == "postgresql+psycopg://u:p@127.0.0.1/db"


def test_misspelt_environment_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"HOUSING_SERVCE__PORT: unknown configuration section"):
        load_config(CONFIG, environ={"HOUSING_SERVCE__PORT": "4000"})
    with pytest.raises(ConfigError, match=r"service\.portt: unknown key"):
        load_config(CONFIG, environ={"HOUSING_SERVICE__PORTT": "4000"})


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"service\.port: .*integer"):
        load_config(CONFIG, environ={"HOUSING_SERVICE__PORT": "three thousand"})


def test_reserved_variables_are_not_overrides() -> None:
    settings = load_config(CONFIG, environ={"HOUSING_FEEDBACK_TOKEN": "secret"})
    assert settings.service.port == 3000


def test_housing_config_selects_another_file(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["service"].update(port=3999))
    settings = load_config(None, environ={"HOUSING_CONFIG": str(path)})
    assert settings.service.port == 3999
    assert settings.root == tmp_path


def test_unreadable_and_malformed_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.yaml", environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, environ={})


def test_cli_reports_a_bad_config_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    path = _write_config(tmp_path, lambda raw: raw["model"].update(estimator="xgboost"))
    result = CliRunner().invoke(app, ["--config", str(path), "models"])
    assert result.exit_code == 2
    assert "model.estimator" in result.output
    assert "Traceback" not in result.output


def test_the_unlogged_policy_is_refuse_by_default_and_validated() -> None:
    settings = load_config(CONFIG, environ={})
    assert settings.storage.on_log_unavailable == "refuse"
    assert settings.storage.journal is True
    served = load_config(CONFIG, environ={"HOUSING_STORAGE__ON_LOG_UNAVAILABLE": "serve"})
    assert served.storage.on_log_unavailable == "serve"
    with pytest.raises(ConfigError, match=r"storage\.on_log_unavailable: .*'refuse' or 'serve'"):
        load_config(CONFIG, environ={"HOUSING_STORAGE__ON_LOG_UNAVAILABLE": "ignore"})


def test_smallest_shift_within_the_bias_margin_is_rejected() -> None:
    """No label count could ever prove a shift the margin already calls immaterial."""
    environ = {
        "HOUSING_MONITORING__PERFORMANCE__SMALLEST_SHIFT": "0.04",
        "HOUSING_MONITORING__PERFORMANCE__BIAS_MARGIN": "0.05",
    }
    with pytest.raises(ConfigError, match=r"monitoring\.performance: .*smallest_shift 0\.04"):
        load_config(CONFIG, environ=environ)


def test_a_search_range_that_is_empty_or_malformed_is_named() -> None:
    """`housing tune` reads its space from the file: a bad range fails on load, not mid-search."""
    with pytest.raises(ConfigError, match=r"tuning\.space\.learning_rate: .*'low' \(0\.5\)"):
        load_config(
            CONFIG,
            environ={"HOUSING_TUNING__SPACE__LEARNING_RATE__LOW": "0.5"},  # high is 0.2
        )
    with pytest.raises(ConfigError, match=r"tuning\.space\.max_leaf_nodes: .*whole"):
        load_config(CONFIG, environ={"HOUSING_TUNING__SPACE__MAX_LEAF_NODES__LOW": "15.5"})


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [("HOUSING_SERVICE__PROT", "3000", "unknown key"),
     ("HOUSING_SERVICE__PORT", "abc", "valid integer")],
)  # fmt: skip
def test_a_bad_environment_override_names_the_variable_not_the_file(
    variable: str, value: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(CONFIG, environ={variable: value})
    message = str(caught.value)
    assert message.startswith(f"invalid environment override: {variable} sets service.")
    assert reason in message
    assert str(CONFIG) not in message
