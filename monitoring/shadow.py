"""Champion against shadow on production labels: the comparison ``housing monitor`` reports and
the rule ``housing promote --from-shadow`` applies.

Both models priced the same logged predictions (the shadow's prices sit in
``shadow_predictions`` under the champion's prediction ids), so the comparison is paired: the
RMSE difference is bootstrapped over the same resampled rows for both (the retrain gate's
:func:`training.retrain.paired_bootstrap`, same ``retrain.confidence`` and resamples), and what
makes a house hard to price cancels out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from housing import registry
from housing.bundle import ModelRef
from housing.config import Settings
from housing.run_summary import ModelScores, ShadowComparison
from housing.store.tables import shadow_predictions
from monitoring.window import ACTUAL, HIGH, ID, LOW, PREDICTION, VERSION, Window, read_window
from training.retrain import paired_bootstrap

# Prediction ids per IN (...) query: below SQLite's and PostgreSQL's parameter limits.
_IDS_PER_QUERY = 500
_SHADOW = "shadow_"


def shadow_prices(engine: Engine, ids: list[str]) -> pd.DataFrame:
    """The shadow's rows for ``ids``: prediction_id, shadow_version, shadow_price/low/high."""
    table = shadow_predictions
    rows = []
    with engine.connect() as connection:
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            query = select(
                table.c.prediction_id,
                table.c.shadow_version,
                table.c.price,
                table.c.price_low,
                table.c.price_high,
            ).where(table.c.prediction_id.in_(chunk))
            rows.extend(connection.execute(query).all())
    return pd.DataFrame(
        rows,
        columns=[ID, "shadow_version", f"{_SHADOW}{PREDICTION}", f"{_SHADOW}{LOW}",
                 f"{_SHADOW}{HIGH}"],
    )  # fmt: skip


def _scores(version: str, actual: np.ndarray, price, low, high) -> ModelScores:
    price, low, high = (np.asarray(v, dtype=float) for v in (price, low, high))
    return ModelScores(
        version=version,
        rmse=float(np.sqrt(np.mean((price - actual) ** 2))),
        mae=float(np.mean(np.abs(price - actual))),
        coverage=float(np.mean((actual >= low) & (actual <= high))),
        mean_width=float(np.mean(high - low)),
    )


def compare(
    engine: Engine, settings: Settings, rows: pd.DataFrame, champion_version: str
) -> ShadowComparison | None:
    """Champion vs the shadow on the labelled ``rows`` (of the champion) the shadow priced.

    None when the shadow priced none of them. With several shadow versions in the window the
    one that priced the most labelled rows is compared.
    """
    labelled = rows[rows[ACTUAL].notna()]
    if labelled.empty:
        return None
    shadow = shadow_prices(engine, labelled[ID].astype(str).tolist())
    if shadow.empty:
        return None
    version = str(shadow["shadow_version"].value_counts().idxmax())
    paired = labelled.merge(shadow[shadow["shadow_version"] == version], on=ID)
    rules = settings.retrain
    actual = paired[ACTUAL].to_numpy(dtype=float)
    champion = _scores(champion_version, actual, paired[PREDICTION], paired[LOW], paired[HIGH])
    challenger = _scores(
        version,
        actual,
        paired[f"{_SHADOW}{PREDICTION}"],
        paired[f"{_SHADOW}{LOW}"],
        paired[f"{_SHADOW}{HIGH}"],
    )
    count = len(paired)
    gain = low = high = None
    if count >= 2:
        bootstrap = paired_bootstrap(
            actual,
            paired[PREDICTION].to_numpy(dtype=float),
            paired[f"{_SHADOW}{PREDICTION}"].to_numpy(dtype=float),
            rules,
            seed=settings.monitoring.seed,
        )
        gain, low, high = bootstrap.champion - bootstrap.challenger, bootstrap.low, bootstrap.high
    enough = count >= rules.shadow_min_labels
    better = enough and low is not None and low > 0
    level = f"{rules.confidence:.0%}"
    if not enough:
        reason = (
            f"only {count} labelled predictions priced by both champion v{champion_version} and "
            f"shadow v{version}; promotion from shadow needs {rules.shadow_min_labels}"
        )
    elif better:
        reason = (
            f"shadow v{version} RMSE {challenger.rmse:,.0f} beats champion v{champion_version} "
            f"{champion.rmse:,.0f} on {count} labels: gain {gain:,.0f}, {level} interval "
            f"{low:,.0f} .. {high:,.0f} above zero"
        )
    else:
        reason = (
            f"shadow v{version} RMSE {challenger.rmse:,.0f} is not surely lower than champion "
            f"v{champion_version} {champion.rmse:,.0f} on {count} labels: {level} interval of the "
            f"gain {low:,.0f} .. {high:,.0f} reaches zero"
        )
    return ShadowComparison(
        champion=champion,
        shadow=challenger,
        labelled=count,
        min_labels=rules.shadow_min_labels,
        confidence=rules.confidence,
        rmse_gain=gain,
        rmse_gain_low=low,
        rmse_gain_high=high,
        shadow_better=better,
        reason=reason,
    )


@dataclass(frozen=True)
class ShadowDecision:
    """What ``housing promote --from-shadow`` concluded, and the one line that says why."""

    promote: bool
    shadow: ModelRef | None
    reason: str
    comparison: ShadowComparison | None = None


def decide(settings: Settings, engine: Engine, window: Window) -> ShadowDecision:
    """Promote the registry's shadow only when it surely beats the champion on production labels
    of ``window`` (the champion's predictions the shadow also priced)."""
    shadow, champion = registry.get_shadow(settings), registry.get_champion(settings)
    if shadow is None:
        return ShadowDecision(False, None, "no shadow is running (`housing shadow start VERSION`)")
    if champion is None:
        return ShadowDecision(False, shadow, "there is no champion to compare the shadow with")
    log = read_window(engine, settings, window)
    rows = log.frame[log.frame[VERSION] == str(champion.version)] if len(log.frame) else log.frame
    comparison = compare(engine, settings, rows, str(champion.version)) if len(rows) else None
    if comparison is None or comparison.shadow.version != str(shadow.version):
        return ShadowDecision(
            False,
            shadow,
            f"no labelled prediction of champion v{champion.version} in {window.describe()} "
            f"was priced by shadow v{shadow.version}",
        )
    return ShadowDecision(comparison.shadow_better, shadow, comparison.reason, comparison)
