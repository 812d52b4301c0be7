"""Neighbour prices without leakage, and interval calibration that holds per group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor

from housing.config import GroupSpec, load_config
from housing.features import HousingFeatures
from housing.pricing import conformal_quantile
from training.intervals import calibrate, conditional_coverage

ROOT = Path(__file__).resolve().parents[2]


def test_neighbour_prices_never_see_the_rows_own_price() -> None:
    # Four blocks on a line, 1 km apart (0.009 degrees of latitude); prices 1, 10, 100, 1000.
    frame = pd.DataFrame({"lon": [0.0] * 4, "lat": [0.0, 0.009, 0.018, 0.027]})
    prices = np.array([1.0, 10.0, 100.0, 1000.0])
    features = HousingFeatures(numeric=[], neighbours=("lon", "lat", [1, 2]))
    fitted = features.fit_transform(frame, prices)
    log = np.log(prices)
    # Block 0's nearest other block is block 1; its two nearest others are 1 and 2.
    np.testing.assert_allclose(fitted[0], [log[1], (log[1] + log[2]) / 2])
    np.testing.assert_allclose(fitted[3, 0], log[2])
    # A new block sitting on block 0 sees block 0's own price: it is not a training row.
    fresh = features.transform(frame.head(1))
    np.testing.assert_allclose(fresh[0], [log[0], (log[0] + log[1]) / 2])
    # Missing coordinates give a missing feature, not an error.
    unknown = features.transform(pd.DataFrame({"lon": [np.nan], "lat": [0.0]}))
    assert np.isnan(unknown).all()


def test_conformal_quantile_uses_the_finite_sample_rank() -> None:
    scores = np.arange(1.0, 11.0)  # 10 scores: rank ceil(11 * 0.9) = 10
    assert conformal_quantile(scores, 0.9) == 10.0
    assert conformal_quantile(scores, 0.5) == 6.0  # ceil(11 * 0.5) = 6


def test_mondrian_calibration_covers_each_group() -> None:
    """Errors 4x larger in one group: a pooled band over-covers one and under-covers the other;
    per-group calibration covers both at the configured 90%."""
    settings = load_config(ROOT / "configuration.yaml", environ={})
    intervals = settings.intervals.model_copy(
        update={
            "method": "absolute",
            "mondrian": GroupSpec(column="ocean_proximity"),
            "groups": [GroupSpec(column="ocean_proximity")],
        }
    )
    settings = settings.model_copy(update={"intervals": intervals})
    rng = np.random.default_rng(0)

    def sample(n: int) -> pd.DataFrame:
        group = rng.choice(["INLAND", "NEAR BAY"], size=n)
        spread = np.where(group == "INLAND", 0.1, 0.4)
        frame = pd.DataFrame(dict.fromkeys(settings.feature_names, 1.0), index=range(n))
        frame["ocean_proximity"] = group
        frame[settings.dataset.target] = 100_000 * np.exp(rng.normal(0, spread))
        return frame

    train, fresh = sample(4000), sample(20000)
    pipeline = DummyRegressor(strategy="constant", constant=100_000).fit(
        train[settings.feature_names], train[settings.dataset.target]
    )
    residuals = np.log(train[settings.dataset.target].to_numpy() / 100_000)
    pricing = calibrate(
        settings,
        pipeline,
        train,
        residuals=residuals,
        design=np.zeros((len(train), 1)),
        folds=[],
        categorical=None,
    )
    assert pricing.group_halfwidths["NEAR BAY"] > 3 * pricing.group_halfwidths["INLAND"]
    report = conditional_coverage(settings, pricing, fresh, train)["ocean_proximity"]
    for group in ("INLAND", "NEAR BAY"):
        assert abs(report[group]["coverage"] - 0.9) < 0.015, report
