"""The champion/challenger gate: a new model serves only if it is better on the same holdout.

The champion is re-scored on the challenger's holdout rather than trusting a metric stored when
it was trained, so the comparison is fair even when the holdout or the data changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from housing import bundle, registry
from housing.config import PromotionConfig, Settings
from training.pipeline import evaluate


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the challenger becomes champion, and a sentence saying why."""

    promote: bool
    reason: str
    metric: str
    challenger: float
    champion: float | None = None
    champion_version: int | None = None
    forced: bool = False


@dataclass(frozen=True)
class ChampionScore:
    version: int
    metrics: dict[str, float]


def decide(
    challenger: float,
    champion: ChampionScore | None,
    promotion: PromotionConfig,
    *,
    force: bool = False,
) -> PromotionDecision:
    """Promote when there is no champion, when forced, or when ``challenger <
    champion * (1 + tolerance)`` on ``promotion.metric`` (lower is better). With tolerance 0 a
    model exactly as good as the champion (e.g. the same training run again) is not promoted.
    """
    metric = promotion.metric
    if champion is None:
        return PromotionDecision(True, "first model: no champion yet", metric, challenger)
    current = champion.metrics[metric]
    bound = current * (1.0 + promotion.tolerance)
    better = challenger < bound
    comparison = (
        f"holdout {metric} {challenger:,.0f} vs champion v{champion.version} {current:,.0f}"
        f" (tolerance {promotion.tolerance:.1%})"
    )
    if force:
        verb = "better" if better else "not better, promoted anyway"
        return PromotionDecision(
            True,
            f"forced: {comparison}: {verb}",
            metric,
            challenger,
            current,
            champion.version,
            True,
        )
    verdict = "better" if better else "not better"
    suffix = "" if better else "; stays a challenger"
    reason = f"{verdict}: {comparison}{suffix}"
    return PromotionDecision(better, reason, metric, challenger, current, champion.version)


def score_champion(settings: Settings, holdout: pd.DataFrame) -> ChampionScore | None:
    """The current champion's metrics on ``holdout``, or None when there is no champion.

    Raises :class:`registry.RegistryError` if the champion exists but cannot be loaded or
    cannot price these rows (e.g. its feature schema differs): comparing would be meaningless.
    """
    ref = registry.get_champion(settings)
    if ref is None:
        return None
    try:
        loaded = bundle.load_model(settings, ref)
    except bundle.BundleNotFound as exc:
        raise registry.RegistryError(str(exc)) from exc
    try:
        metrics = evaluate(loaded.pricing, holdout, settings.dataset.target)
    except (KeyError, ValueError) as exc:
        raise registry.RegistryError(
            f"champion v{ref.version} cannot be evaluated on this holdout ({exc});"
            " use --force to replace it"
        ) from exc
    return ChampionScore(version=ref.version, metrics=metrics)
