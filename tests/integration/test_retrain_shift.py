"""Retraining follows a regional concept shift.

Southern California (latitude below 34.5, about 54% of the houses) gets 25% dearer. 2,000
unseen houses are scored by the champion and all of them get their new true price back as
feedback; ``retrain`` runs; the houses the retrain never saw (the rest of the holdout, shifted
the same way) judge the result: RMSE at least 20% below the champion's, interval coverage at
least 85%, and a monitor run on them as fresh traffic is not ``degraded``.

On main (af90d6f) the refit challenger took the RMSE of such houses from 72.0k to 69.6k (3%).
"""

from __future__ import annotations

import numpy as np
import pytest

from housing import bundle, registry
from housing.run_summary import Status
from monitoring.monitor import run_monitor
from monitoring.simulator import held_out_houses
from monitoring.window import Window
from tests.fixtures.monitoring import log_houses, own_outputs
from training.pipeline import evaluate
from training.retrain import retrain

PRODUCTION_HOUSES = 2000
REGION_LATITUDE = 34.5
PRICE_FACTOR = 1.25


def _shifted(houses, target: str) -> np.ndarray:
    prices = houses[target].to_numpy(dtype=float, copy=True)
    prices[(houses["latitude"] < REGION_LATITUDE).to_numpy()] *= PRICE_FACTOR
    return prices


@pytest.mark.slow
@pytest.mark.timeout(900)  # one champion, one correction, one monitor run: ~1-2 min idle
def test_retrain_follows_a_regional_price_shift(training_settings, tmp_path) -> None:
    from training.train import run_training

    settings = training_settings
    target = settings.dataset.target
    run_training(settings, reason="shift test champion")
    champion = registry.get_champion(settings)
    houses = held_out_houses(settings).sample(frac=1.0, random_state=3).reset_index(drop=True)
    production = houses.iloc[:PRODUCTION_HOUSES].reset_index(drop=True)
    unseen = houses.iloc[PRODUCTION_HOUSES:].reset_index(drop=True)
    unseen[target] = _shifted(unseen, target)
    before = evaluate(bundle.load_model(settings, champion).pricing, unseen, target)

    log_houses(settings, production, labelled_share=1.0, labels=_shifted(production, target))
    outcome = retrain(settings, reason="monitor: southern California moved")
    assert outcome.promoted, outcome.describe()
    new = registry.get_champion(settings)
    after = evaluate(bundle.load_model(settings, new).pricing, unseen, target)
    change = after["rmse"] / before["rmse"] - 1
    print(  # shown with -s
        f"\n{outcome.describe()}\nunseen shifted houses ({len(unseen)}): RMSE "
        f"{before['rmse']:,.0f} -> {after['rmse']:,.0f} ({change:+.1%}), "
        f"coverage {before['coverage']:.3f} -> {after['coverage']:.3f}"
    )
    assert after["rmse"] <= 0.8 * before["rmse"]
    assert after["coverage"] >= 0.85

    fresh = own_outputs(settings, tmp_path / "fresh")
    log_houses(fresh, unseen, labelled_share=0.5, labels=unseen[target].to_numpy())
    result = run_monitor(fresh, Window(last_n=len(unseen)), trigger="test")
    print(f"next monitor run: {result.summary.verdict.value}: {result.verdict.reasons}")
    assert result.summary.model_version == str(new.version)
    assert result.summary.verdict is not Status.DEGRADED, result.verdict.reasons
