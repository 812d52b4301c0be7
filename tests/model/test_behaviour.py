"""Behavioural tests of the trained champion (in the spirit of Made-With-ML's tests/model).

They check what a user of the model would notice, on the small California champion of the
``champion_settings`` fixture (a real HGB pipeline trained with CV and conformal intervals):

* invariance: shuffling the rows or adding a column the model does not use changes no price;
* direction: a higher ``median_income`` does not lower the price, on average over the holdout;
* minimum functionality: a Bay Area block by the water is priced above an otherwise identical
  inland block in the Central Valley, and every price sits inside its own interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from housing import bundle, registry
from housing.config import Settings
from housing.pricing import PricingModel
from serving.champion import load_served_model
from training.data import load_training_data
from training.pipeline import split_holdout

# Direction test: +20% median income (10k USD units), clipped to the schema's range.
INCOME_FACTOR = 1.2


@pytest.fixture(scope="module")
def pricing(champion_settings: Settings) -> PricingModel:
    champion = registry.get_champion(champion_settings)
    assert champion is not None
    return bundle.load_model(champion_settings, champion).pricing


@pytest.fixture(scope="module")
def served_pricing(champion_settings: Settings) -> PricingModel:
    champion = registry.get_champion(champion_settings)
    assert champion is not None
    return load_served_model(champion_settings, champion).pricing


@pytest.fixture(scope="module")
def holdout(champion_settings: Settings) -> pd.DataFrame:
    _, rows = split_holdout(load_training_data(champion_settings).frame, champion_settings)
    return rows


def test_prices_do_not_depend_on_row_order(pricing: PricingModel, holdout: pd.DataFrame) -> None:
    rows = holdout.head(500)
    shuffled = rows.sample(frac=1.0, random_state=3)
    original = pricing.predict(rows)
    again = pricing.predict(shuffled)
    by_index = pd.Series(again.price, index=shuffled.index).loc[rows.index].to_numpy()
    np.testing.assert_allclose(by_index, original.price, rtol=1e-12)
    high = pd.Series(again.high, index=shuffled.index).loc[rows.index].to_numpy()
    np.testing.assert_allclose(high, original.high, rtol=1e-12)


def test_an_irrelevant_column_changes_nothing(pricing: PricingModel, holdout: pd.DataFrame) -> None:
    rows = holdout.head(500)
    noisy = rows.assign(customer_note=np.arange(len(rows)).astype(str), row_id=np.arange(len(rows)))
    original, extra = pricing.predict(rows), pricing.predict(noisy)
    np.testing.assert_array_equal(extra.price, original.price)
    np.testing.assert_array_equal(extra.low, original.low)


def test_higher_income_does_not_lower_the_average_price(
    champion_settings: Settings, pricing: PricingModel, holdout: pd.DataFrame
) -> None:
    spec = champion_settings.dataset.features["median_income"]
    richer = holdout.assign(
        median_income=np.minimum(holdout["median_income"] * INCOME_FACTOR, spec.max)
    )
    before, after = pricing.predict(holdout).price, pricing.predict(richer).price
    assert after.mean() > before.mean()
    # Not only on average: only a small share of blocks may get cheaper.
    assert np.mean(after < before * 0.99) < 0.1


def _block(longitude: float, latitude: float, ocean_proximity: str) -> dict[str, object]:
    """One block group with typical structure (rooms, people, income); only place varies."""
    return {
        "longitude": longitude,
        "latitude": latitude,
        "housing_median_age": 30.0,
        "total_rooms": 2000.0,
        "total_bedrooms": 400.0,
        "population": 1000.0,
        "households": 380.0,
        "median_income": 4.0,
        "ocean_proximity": ocean_proximity,
    }


def test_a_bay_area_block_costs_more_than_an_inland_one(pricing: PricingModel) -> None:
    blocks = pd.DataFrame(
        [
            _block(-122.42, 37.77, "NEAR BAY"),  # San Francisco
            _block(-119.79, 36.75, "INLAND"),  # Fresno
        ]
    )
    estimates = pricing.predict(blocks)
    bay_area, inland = estimates.price
    assert bay_area > 1.5 * inland
    assert np.all(estimates.low < estimates.price) and np.all(estimates.price < estimates.high)


def test_small_batches_price_the_same_through_either_tree_engine(
    served_pricing: PricingModel, holdout: pd.DataFrame
) -> None:
    """Small model batches are scored by treelite's GTIL (one native call for all trees), large
    ones by scikit-learn: a house gets the same price and interval whichever batch it is in."""
    accelerated = "the price and the error model are both accelerated"
    assert len(served_pricing.small_batches) == 2, accelerated
    plain = served_pricing.with_small_batch_trees(0, 1)
    assert plain.small_batches == ()
    for size in (1, 7, served_pricing.small_batches[0].max_rows):
        rows = holdout.head(size)
        fast, slow = served_pricing.predict(rows), plain.predict(rows)
        for name in ("price", "low", "high"):
            np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-9)
    alone = served_pricing.predict(holdout.head(1)).price[0]
    in_bulk = served_pricing.predict(holdout.head(500)).price[0]  # 500 rows: scikit-learn
    assert alone == pytest.approx(in_bulk, rel=1e-9)


def test_a_loaded_model_pickles_without_its_tree_engine(served_pricing: PricingModel) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(served_pricing))
    assert copy.small_batches == ()
