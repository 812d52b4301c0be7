"""The champion/challenger rule decides what serves; these are the cases a user relies on."""

from __future__ import annotations

from housing.config import PromotionConfig
from training.promotion import ChampionScore, decide

CHAMPION = ChampionScore(version=3, metrics={"rmse": 40_000.0, "mae": 25_000.0})


def test_first_model_is_promoted() -> None:
    decision = decide(50_000.0, None, PromotionConfig())
    assert decision.promote and "first model" in decision.reason


def test_equal_model_is_not_promoted_with_zero_tolerance() -> None:
    decision = decide(40_000.0, CHAMPION, PromotionConfig(tolerance=0.0))
    assert not decision.promote
    assert "stays a challenger" in decision.reason and "v3" in decision.reason


def test_better_model_is_promoted() -> None:
    assert decide(39_999.0, CHAMPION, PromotionConfig()).promote


def test_tolerance_allows_slightly_worse() -> None:
    assert decide(40_300.0, CHAMPION, PromotionConfig(tolerance=0.01)).promote
    assert not decide(40_500.0, CHAMPION, PromotionConfig(tolerance=0.01)).promote


def test_force_promotes_and_is_recorded() -> None:
    decision = decide(90_000.0, CHAMPION, PromotionConfig(), force=True)
    assert decision.promote and decision.forced
    assert decision.reason.startswith("forced") and "not better" in decision.reason


def test_metric_is_configurable() -> None:
    decision = decide(24_000.0, CHAMPION, PromotionConfig(metric="mae"))
    assert decision.promote and decision.metric == "mae" and decision.champion == 25_000.0
