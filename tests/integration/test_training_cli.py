"""The ``housing`` command as users run it: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from housing.config import Settings
from tests.fixtures.training import CONFIG, env_of, settings_env, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
HOUSING = [str(Path(sys.executable).parent / "housing")]
TIMEOUT_S = 300


def housing(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HOUSING, *args],
        env=subprocess_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def assert_nothing_registered(state: Path) -> None:
    assert not (state / "mlflow.db").exists()
    models = state / "bentoml" / "models"
    assert not models.exists() or not any(models.iterdir())


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "california_housing.csv", dtype=str, nrows=300)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    return path


def _bad_string(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.copy()
    bad.loc[10, "housing_median_age"] = "old"
    return bad


def _bad_range(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.copy()
    bad.loc[4, "median_income"] = "250"
    return bad


@pytest.mark.parametrize(
    ("make_bad", "fragments"),
    [
        (
            lambda f: f.drop(columns=["median_house_value"]),
            ("column 'median_house_value': missing column",),
        ),
        (_bad_string, ("line 12", "'housing_median_age'", "'old' is not a number")),
        (_bad_range, ("line 6", "'median_income'", "250 is above the maximum 20")),
        (lambda f: f.head(0), ("has a header but no data rows",)),
    ],
    ids=["missing-target", "string-in-number", "out-of-range", "header-only"],
)
def test_bad_training_data_stops_before_anything_is_logged(
    tmp_path: Path, sample_rows: pd.DataFrame, make_bad, fragments
) -> None:
    path = _write(tmp_path, make_bad(sample_rows))
    result = housing("train", env=settings_env(tmp_path, dataset__path=path))
    assert_one_line_error(result, str(path), *fragments)
    assert_nothing_registered(tmp_path)


def test_empty_training_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = housing("train", env=settings_env(tmp_path, dataset__path=path))
    assert_one_line_error(result, "file is empty")
    assert_nothing_registered(tmp_path)


def test_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "configuration.yaml"
    text = CONFIG.read_text().replace(
        "  log_target: true\n", "  log_target: true\n  lerning_rate: 0.1\n"
    )
    config.write_text(text)
    result = housing("--config", str(config), "train", env=settings_env(tmp_path))
    assert_one_line_error(result, "model.lerning_rate: unknown key")
    assert_nothing_registered(tmp_path)


def test_bad_config_value(tmp_path: Path) -> None:
    env = settings_env(tmp_path, split__holdout_fraction=1.5)
    result = housing("train", env=env)
    assert_one_line_error(result, "split.holdout_fraction", "less than 1")
    assert_nothing_registered(tmp_path)


def test_train_models_predict_and_unknown_version(
    tmp_path: Path, sample_rows: pd.DataFrame
) -> None:
    env = settings_env(tmp_path)
    trained = housing("train", env=env)
    assert trained.returncode == 0, trained.stderr
    assert "promoted to champion" in trained.stdout
    assert "holdout" in trained.stdout and "interval coverage" in trained.stdout

    listed = housing("models", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "champion" in listed.stdout and "housing_price:" in listed.stdout

    unknown = housing("promote", "42", env=env)
    assert_one_line_error(unknown, "model version 42", "does not exist")

    nothing_before = housing("rollback", env=env)
    assert_one_line_error(nothing_before, "nothing to roll back to")

    houses = sample_rows.drop(columns=["median_house_value"]).head(25).copy()
    houses.loc[3, "ocean_proximity"] = "MARS"
    houses.loc[7, "population"] = "-4"
    source = _write(tmp_path, houses)
    output = tmp_path / "priced.csv"
    scored = housing("predict", "--input", str(source), "--output", str(output), env=env)
    assert scored.returncode == 2
    assert "line 5" in scored.stderr and "line 9" in scored.stderr
    assert "2 rows failed validation" in scored.stderr
    priced = pd.read_csv(output)
    assert len(priced) == 25
    assert priced["price"].isna().tolist() == [i in (3, 7) for i in range(25)]
    assert (priced["price_low"].dropna() < priced["price"].dropna()).all()
    assert priced.loc[3, "error"].startswith("ocean_proximity:")
    assert (priced["model_version"] == 1).all()


def test_predict_with_the_shared_champion(
    champion_settings: Settings, tmp_path: Path, sample_rows: pd.DataFrame
) -> None:
    source = _write(tmp_path, sample_rows.head(40))
    output = tmp_path / "priced.csv"
    result = housing("predict", "-i", str(source), "-o", str(output), env=env_of(champion_settings))
    assert result.returncode == 0, result.stderr
    priced = pd.read_csv(output)
    assert priced["price"].notna().all() and priced["error"].isna().all()
    assert "priced 40 of 40 houses with model version 1" in result.stdout


def test_boston_profile_trains_with_the_same_code(tmp_path: Path) -> None:
    result = housing(
        "--config", "examples/boston/configuration.yaml", "train", env=settings_env(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "boston: model version 1" in result.stdout
    assert "promoted to champion" in result.stdout
