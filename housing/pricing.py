"""The model artifact every part of the product shares: a fitted pipeline plus its intervals.

Training saves exactly one ``PricingModel`` into the BentoML store (and MLflow); the service,
batch scoring, monitoring and retraining all load the same object, so a price and its interval
are computed the same way everywhere.

Intervals are split-conformal in log-price space: ``q`` is the calibrated quantile of
``|log(actual) - log(predicted)|`` on rows the model never trained on, so the interval is
``[price * exp(-q), price * exp(q)]`` -- multiplicative, which suits prices that span two orders
of magnitude, and with the finite-sample coverage guarantee of split conformal prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# A price is never allowed to reach zero before taking logs.
_MIN_PRICE = 1e-6


@dataclass(frozen=True)
class PriceEstimates:
    """Column-aligned predictions for a batch of houses."""

    price: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def __len__(self) -> int:
        return len(self.price)


@dataclass(frozen=True)
class PricingModel:
    """A raw-record-in, price-and-interval-out model.

    ``pipeline`` owns all preprocessing, so callers pass the configured feature columns as they
    arrive (missing values included) and never re-implement feature engineering.
    """

    pipeline: Any
    feature_names: tuple[str, ...]
    log_halfwidth: float
    coverage: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> PriceEstimates:
        price = np.maximum(
            np.asarray(self.pipeline.predict(frame[list(self.feature_names)]), dtype=float),
            _MIN_PRICE,
        )
        factor = float(np.exp(self.log_halfwidth))
        return PriceEstimates(price=price, low=price / factor, high=price * factor)


def conformal_log_halfwidth(actual: np.ndarray, predicted: np.ndarray, coverage: float) -> float:
    """Split-conformal quantile of absolute log residuals at the requested coverage.

    Uses the finite-sample corrected rank ceil((n + 1) * coverage) so the guarantee holds for
    small calibration sets too.
    """
    actual = np.maximum(np.asarray(actual, dtype=float), _MIN_PRICE)
    predicted = np.maximum(np.asarray(predicted, dtype=float), _MIN_PRICE)
    scores = np.sort(np.abs(np.log(actual) - np.log(predicted)))
    n = len(scores)
    if n == 0:
        raise ValueError("conformal calibration needs at least one row")
    rank = min(int(np.ceil((n + 1) * coverage)), n)
    return float(scores[rank - 1])
