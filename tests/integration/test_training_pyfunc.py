"""The registered MLflow model is callable by other tools: pyfunc API and `mlflow models predict`.

Both read a CSV of whole numbers (pandas reads it as int64 columns, which MLflow refuses for a
``double`` column) with one missing, nullable bedroom count, and must return the price with its
interval, equal to what the project's own model gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from housing import bundle, registry
from housing.config import Settings
from training.data import load_training_data

ROWS = 20


@pytest.fixture(scope="module")
def integer_csv(champion_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = load_training_data(champion_settings).frame.head(ROWS)
    houses = frame[champion_settings.feature_names].copy()
    for name, spec in champion_settings.dataset.features.items():
        if spec.type != "category":
            houses[name] = houses[name].round().astype("Int64")
    houses.loc[houses.index[0], "total_bedrooms"] = pd.NA
    path = tmp_path_factory.mktemp("pyfunc") / "houses.csv"
    houses.to_csv(path, index=False)
    return path


def _expected(settings: Settings, houses: pd.DataFrame) -> pd.DataFrame:
    champion = registry.get_champion(settings)
    pricing = bundle.load_model(settings, champion).pricing
    estimates = pricing.predict(houses)
    return pd.DataFrame(
        {"price": estimates.price, "price_low": estimates.low, "price_high": estimates.high}
    )


def test_pyfunc_champion_prices_integer_csv_with_intervals(
    champion_settings: Settings, integer_csv: Path
) -> None:
    import mlflow

    houses = pd.read_csv(integer_csv)
    assert houses["population"].dtype == np.int64  # what users get from a CSV of whole numbers
    mlflow.set_tracking_uri(champion_settings.mlflow.tracking_uri)
    uri = f"models:/{champion_settings.mlflow.registered_model}@champion"
    model = mlflow.pyfunc.load_model(uri)
    result = model.predict(houses)
    assert list(result.columns) == ["price", "price_low", "price_high"]
    assert len(result) == ROWS and result.notna().all().all()
    assert (result["price_low"] < result["price"]).all()
    assert (result["price"] < result["price_high"]).all()
    pd.testing.assert_frame_equal(result, _expected(champion_settings, houses), rtol=1e-9)
    # The optional (nullable) column may be left out entirely; a required one may not.
    assert len(model.predict(houses.drop(columns=["total_bedrooms"]))) == ROWS
    with pytest.raises(Exception, match="median_income"):
        model.predict(houses.drop(columns=["median_income"]))


def test_mlflow_models_predict_cli_on_the_same_csv(
    champion_settings: Settings, integer_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "predictions.json"
    uri = f"models:/{champion_settings.mlflow.registered_model}@champion"
    command = [sys.executable, "-m", "mlflow", "models", "predict", "-m", uri]
    command += ["-i", str(integer_csv), "-t", "csv", "-o", str(output), "--env-manager", "local"]
    env = {"MLFLOW_TRACKING_URI": champion_settings.mlflow.tracking_uri}
    completed = subprocess.run(
        command,
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    predictions = pd.DataFrame(json.loads(output.read_text())["predictions"])
    expected = _expected(champion_settings, pd.read_csv(integer_csv))
    pd.testing.assert_frame_equal(predictions[list(expected.columns)], expected, rtol=1e-9)


def _base_env() -> dict[str, str]:
    from tests.fixtures.training import subprocess_env

    return subprocess_env({})
