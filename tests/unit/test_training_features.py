"""The feature transformer inside the model: engineered columns users never compute themselves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from housing.config import load_config
from housing.features import HousingFeatures, features_from_config
from housing.records import frame_to_records, records_to_frame

ROOT = Path(__file__).resolve().parents[2]


def test_ratios_rotation_and_category_codes() -> None:
    features = HousingFeatures(
        numeric=["rooms", "households", "lon", "lat"],
        categories={"kind": ["A", "B"]},
        ratios=[("rooms_per_household", "rooms", "households")],
        rotation=("lon", "lat", [90.0]),
    )
    frame = pd.DataFrame(
        {
            "rooms": [10.0, 4.0, 3.0],
            "households": [2.0, 0.0, np.nan],
            "lon": [1.0, 0.0, 2.0],
            "lat": [0.0, 1.0, 3.0],
            "kind": ["B", "C", None],
        }
    )
    out = features.fit(frame).transform(frame)
    names = list(features.get_feature_names_out())
    assert names == [
        "rooms", "households", "lon", "lat", "rooms_per_household", "rot90_x", "rot90_y", "kind"
    ]  # fmt: skip
    ratio = out[:, names.index("rooms_per_household")]
    assert ratio[0] == 5.0 and math.isnan(ratio[1]) and math.isnan(ratio[2])
    np.testing.assert_allclose(out[0, names.index("rot90_x")], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[0, names.index("rot90_y")], 1.0)
    kind = out[:, names.index("kind")]
    assert kind[0] == 1.0 and math.isnan(kind[1]) and math.isnan(kind[2])
    assert features.categorical_mask()[-1] is True


def test_configured_features_build_from_settings() -> None:
    settings = load_config(ROOT / "configuration.yaml", environ={})
    features = features_from_config(settings.dataset.features, settings.feature_engineering)
    names = list(features.get_feature_names_out())
    assert "rooms_per_household" in names and "rot45_x" in names
    assert names[-1] == "ocean_proximity"


def test_records_round_trip_with_dtypes_and_missing_values() -> None:
    settings = load_config(ROOT / "configuration.yaml", environ={})
    records = [
        {"longitude": -122.2, "latitude": 37.9, "housing_median_age": 41, "total_rooms": 880,
         "total_bedrooms": None, "population": 322, "households": 126, "median_income": 8.3,
         "ocean_proximity": "NEAR BAY"},
        {"longitude": -118.0, "latitude": 34.0, "ocean_proximity": "INLAND"},
    ]  # fmt: skip
    frame = records_to_frame(records, settings)
    assert list(frame.columns) == settings.feature_names
    assert frame["housing_median_age"].dtype == np.float64
    assert math.isnan(frame.loc[0, "total_bedrooms"]) and math.isnan(frame.loc[1, "total_rooms"])
    back = frame_to_records(frame, settings.feature_names)
    assert back[0]["total_bedrooms"] is None and back[0]["ocean_proximity"] == "NEAR BAY"
    assert back[1]["median_income"] is None
