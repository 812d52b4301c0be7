"""Follow a market that moved: the champion plus a correction learned from recent labels.

A refit on base + production rows barely moves houses it has not seen: measured on a regional
shift (southern California prices x1.25, 2,000 labelled production rows), the refit challenger
moved the houses it trained on by 12-14% but new houses in the region by 2.9%, and a feedback
weight of 10 changed nothing -- 16,512 base rows outvote 1,400 production rows, and the
neighbour-price features still read the old prices. A small gradient-boosting model of the
champion's log residual on the coordinates, fitted on the production rows, moves a whole region
at once (docs/monitoring.md, "Retraining", has the figures).

The intervals are recalibrated on the same rows: the conformal quantile of the *out-of-fold*
corrected residuals (each row's correction fitted without it), scaled by the champion's own
per-house width, replaces the champion's quantile when it is wider, so coverage holds in the
new market without narrowing it in the old.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold

from housing.config import Settings
from housing.pricing import MarketCorrection, PricingModel, conformal_quantile, log_residuals
from training.pipeline import evaluate
from training.publish import TrainedModel


@dataclasses.dataclass(frozen=True)
class CorrectedModel:
    """The corrected challenger and the out-of-fold prices of the rows it learned from."""

    pricing: PricingModel
    oof_price: np.ndarray


def _fit(settings: Settings, rows: pd.DataFrame, residuals: np.ndarray) -> MarketCorrection:
    columns = tuple(settings.retrain.correction.features)
    values = rows[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    model = HistGradientBoostingRegressor(**settings.retrain.correction.params)
    model.fit(values, residuals)
    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    return MarketCorrection(
        model=model,
        columns=columns,
        low=tuple(float(v) for v in low),
        high=tuple(float(v) for v in high),
    )


def correct(settings: Settings, base: PricingModel, rows: pd.DataFrame) -> CorrectedModel:
    """``base`` with a correction fitted on ``rows`` (features + target) and recalibrated widths.

    Deterministic: folds are seeded with ``split.seed``, the regressor with its own
    ``random_state`` (configuration).
    """
    target = settings.dataset.target
    estimates = base.predict(rows)
    residuals = log_residuals(rows[target].to_numpy(dtype=float), estimates.price)
    offsets = np.zeros(len(rows))
    folds = KFold(n_splits=settings.split.cv_folds, shuffle=True, random_state=settings.split.seed)
    for fit, held in folds.split(rows):
        fold = _fit(settings, rows.iloc[fit], residuals[fit])
        offsets[held] = fold.log_offset(rows.iloc[held])
    # The base model's per-house width is q * sigma(x); the score divides by sigma(x) alone.
    quantiles = base.halfwidths(rows)
    sigma = np.log(estimates.high / estimates.price) / quantiles
    scores = np.abs(residuals - offsets) / sigma
    recent = conformal_quantile(scores, base.coverage)
    pricing = dataclasses.replace(
        base,
        correction=_fit(settings, rows, residuals),
        log_halfwidth=max(base.log_halfwidth, recent),
        group_halfwidths={k: max(v, recent) for k, v in base.group_halfwidths.items()},
        metadata={**base.metadata, "correction_rows": len(rows), "recent_log_halfwidth": recent},
    )
    return CorrectedModel(pricing=pricing, oof_price=estimates.price * np.exp(offsets))


def _reference(
    settings: Settings, corrected: CorrectedModel, older: pd.DataFrame, recent: pd.DataFrame
) -> pd.DataFrame:
    """The monitor's reference for the corrected model: production rows, honestly priced.

    The old holdout no longer describes the market the model now prices (its labels predate the
    move, so the corrected model looks biased on it and the monitor would compare fresh traffic
    with that bias). Older rows carry their out-of-fold price, recent rows -- never fitted on
    -- the final one; the interval keeps each house's width.
    """
    columns = [*settings.feature_names, settings.dataset.target]
    frames = []
    for rows, price in (
        (older, corrected.oof_price),
        (recent, corrected.pricing.predict(recent).price),
    ):
        estimates = corrected.pricing.predict(rows)
        frame = rows[columns].reset_index(drop=True).copy()
        frame["prediction"] = price
        frame["price_low"] = price * estimates.low / estimates.price
        frame["price_high"] = price * estimates.high / estimates.price
        frames.append(frame)
    pool = pd.concat(frames, ignore_index=True)
    size = min(settings.monitoring.reference_rows, len(pool))
    return pool.sample(n=size, random_state=settings.monitoring.seed).reset_index(drop=True)


def corrected_challenger(
    settings: Settings,
    champion: PricingModel,
    card: dict,
    *,
    older: pd.DataFrame,
    recent: pd.DataFrame,
    holdout: pd.DataFrame,
    data_sha256: str,
) -> tuple[TrainedModel, pd.DataFrame, int]:
    """The champion corrected on ``older``; the holdout it is judged on; houses left out of it.

    Holdout houses the correction moves by more than ``retrain.correction.moved_margin`` (log)
    are left out of the holdout comparison: recent labels say their market moved, so their old
    labels no longer judge a model. Everywhere else the challenger must still price the old
    market as well as the champion.
    """
    corrected = correct(settings, champion, older)
    offsets = corrected.pricing.correction.log_offset(holdout)  # type: ignore[union-attr]
    unmoved = np.abs(offsets) <= settings.retrain.correction.moved_margin
    if not unmoved.any():  # nothing left to compare on: judge on every house (conservative)
        unmoved[:] = True
    kept = holdout[unmoved]
    scores = evaluate(corrected.pricing, kept, settings.dataset.target)
    metrics = {f"holdout_{k}": v for k, v in scores.items()}
    metrics["calibration_log_halfwidth"] = corrected.pricing.log_halfwidth
    metrics["recent_log_halfwidth"] = corrected.pricing.metadata["recent_log_halfwidth"]
    reference = _reference(settings, corrected, older, recent)
    trained = TrainedModel(
        pricing=corrected.pricing,
        holdout=kept,
        reference=reference,
        metrics=metrics,
        card={
            **card,
            "correction": {
                "features": list(settings.retrain.correction.features),
                "rows": len(older),
                "log_halfwidth": corrected.pricing.log_halfwidth,
                "holdout_rows_moved": int((~unmoved).sum()),
            },
            "holdout": {k.removeprefix("holdout_"): v for k, v in metrics.items()},
            "reference_rows": len(reference),
        },
        data_sha256=data_sha256,
        params={
            "retrain_method": "correction",
            "correction_features": ",".join(settings.retrain.correction.features),
            "correction_rows": len(older),
            **{f"correction.{k}": v for k, v in settings.retrain.correction.params.items()},
        },
    )
    return trained, kept, int((~unmoved).sum())
