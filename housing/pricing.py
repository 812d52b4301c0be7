"""The model artifact every part of the product shares: a fitted pipeline plus its intervals.

Training saves exactly one ``PricingModel`` into the BentoML store (and MLflow); the service,
batch scoring, monitoring and retraining all load the same object, so a price and its interval
are computed the same way everywhere.

Intervals are conformal in log-price space, multiplicative (prices span two orders of
magnitude): ``[price * exp(-h), price * exp(h)]`` with a per-house log half-width
``h = q_g * sigma(x)``:

* ``sigma(x)`` (optional ``error_model``) predicts the typical absolute log error of this house
  from the same features the price model sees, so the band is narrow where prices are easy
  (a suburban tract like its neighbours) and wide where they are not. Without it ``sigma = 1``
  (one multiplicative width for every house).
* ``q_g`` is the conformal quantile of the scores ``|log actual - log predicted| / sigma`` of
  out-of-fold rows, with the finite-sample rank ``ceil((n + 1) * coverage)``; with a
  ``mondrian`` grouping each group (e.g. an income quintile) gets its own ``q``, so coverage
  holds per group and not only on average.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from housing.trees import SmallBatchTrees

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
class Grouping:
    """How rows fall into groups: category values, or bins of a numeric column.

    ``edges`` are the inner bin edges (e.g. training quintiles of income); ``None`` means the
    column's own values are the groups. Missing values form the group ``"missing"``.
    """

    column: str
    edges: tuple[float, ...] | None = None

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column]
        if self.edges is None:
            return np.asarray(values.astype(object).where(values.notna(), "missing"), dtype=str)
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bins = np.searchsorted(np.asarray(self.edges), numbers, side="right")
        names = np.asarray(self.bin_names(), dtype=object)
        return np.where(np.isnan(numbers), "missing", names[bins]).astype(str)

    def bin_names(self) -> list[str]:
        """``Q1``..``Qn`` for quantile bins (n = len(edges) + 1)."""
        return [f"Q{i + 1}" for i in range(len(self.edges or ()) + 1)]


@dataclass(frozen=True)
class MarketCorrection:
    """A learned log-price offset for where the market moved since the base model was fitted.

    ``model`` (a regressor on ``columns`` of the raw records, e.g. the coordinates) predicts
    ``log(actual / base price)`` from recent labelled production rows; the served price is
    ``base price * exp(offset)``. Written by ``housing retrain`` with ``retrain.method:
    correction`` (training/correction.py).

    ``low``/``high`` bound the values the correction was fitted on, per column: a tree would
    carry the nearest leaf's offset to places no recent label came from (Bay Area labels would
    move Los Angeles), so outside that box the offset is 0.
    """

    model: Any
    columns: tuple[str, ...]
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    def log_offset(self, frame: pd.DataFrame) -> np.ndarray:
        rows = frame[list(self.columns)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        offset = np.asarray(self.model.predict(rows), dtype=float)
        if self.low:
            inside = np.all((rows >= np.asarray(self.low)) & (rows <= np.asarray(self.high)), 1)
            offset = np.where(inside, offset, 0.0)
        return offset


@dataclass(frozen=True)
class PricingModel:
    """A raw-record-in, price-and-interval-out model.

    ``pipeline`` owns all preprocessing, so callers pass the configured feature columns as they
    arrive (missing values included) and never re-implement feature engineering.
    ``error_model`` (optional) reads the pipeline's transformed features (everything before its
    last step) and predicts the absolute log error; ``error_floor`` keeps its output positive.
    ``mondrian`` with ``group_halfwidths`` calibrates each group separately; a group not in the
    table (too few calibration rows, or unseen) uses the pooled ``log_halfwidth``.
    ``correction`` (optional) moves the base price where recent labels say the market moved.
    """

    pipeline: Any
    feature_names: tuple[str, ...]
    log_halfwidth: float
    coverage: float
    metadata: dict[str, Any] = field(default_factory=dict)
    error_model: Any = None
    error_floor: float = 0.0
    mondrian: Grouping | None = None
    group_halfwidths: dict[str, float] = field(default_factory=dict)
    correction: MarketCorrection | None = None

    # Set by :meth:`with_small_batch_trees` on a loaded model, dropped when pickled.
    small_batches: tuple[SmallBatchTrees, ...] = field(default=(), compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("small_batches", None)
        return state

    def with_small_batch_trees(self, max_rows: int, threads: int) -> PricingModel:
        """This model with small batches scored by one native call (see ``housing.trees``)."""
        estimators = [_regressor(self._final), getattr(self, "error_model", None)]
        accelerated = (SmallBatchTrees.of(e, max_rows, threads) for e in estimators)
        return replace(self, small_batches=tuple(a for a in accelerated if a is not None))

    def _score(self, estimator: Any, design: np.ndarray) -> np.ndarray:
        for trees in getattr(self, "small_batches", ()):
            if trees.serves(estimator, len(design)):
                return trees.predict(design)
        return np.asarray(estimator.predict(design), dtype=float)

    @property
    def _is_pipeline(self) -> bool:
        return bool(getattr(self.pipeline, "steps", None))  # else a bare estimator (tests)

    @property
    def _final(self) -> Any:
        """The pipeline's last step (the pipeline itself when it is a bare estimator)."""
        return self.pipeline[-1] if self._is_pipeline else self.pipeline

    def _price(self, design: np.ndarray) -> np.ndarray:
        final = self._final
        if not hasattr(final, "transformer_"):  # no log target: the regressor itself
            return self._score(final, design)
        raw = self._score(final.regressor_, design)  # what TransformedTargetRegressor does
        return np.asarray(final.transformer_.inverse_transform(raw.reshape(-1, 1)), float)[:, 0]

    def predict(self, frame: pd.DataFrame) -> PriceEstimates:
        # The service's frames already hold exactly these columns in this order, and a pandas
        # column selection costs 0.35 ms (8% of a 15-row call); other callers' frames are cut.
        names = list(self.feature_names)
        rows = frame if list(frame.columns) == names else frame[names]
        design = self.pipeline[:-1].transform(rows) if self._is_pipeline else rows
        price = self._price(design)
        error_model = getattr(self, "error_model", None)  # models pickled before intervals v2
        if error_model is None:
            scale = np.ones(len(rows))
        else:
            scale = np.maximum(self._score(error_model, design), self.error_floor)
        correction = getattr(self, "correction", None)  # models pickled before corrections
        if correction is not None:
            price = price * np.exp(correction.log_offset(frame))
        price = np.maximum(price, _MIN_PRICE)
        factor = np.exp(self.halfwidths(frame) * scale)
        return PriceEstimates(price=price, low=price / factor, high=price * factor)

    def halfwidths(self, frame: pd.DataFrame) -> np.ndarray:
        """The calibrated score quantile ``q`` of each row (its group's, or the pooled one)."""
        pooled = np.full(len(frame), self.log_halfwidth)
        mondrian = getattr(self, "mondrian", None)
        if mondrian is None or not self.group_halfwidths:
            return pooled
        labels = mondrian.labels(frame)
        for label, value in self.group_halfwidths.items():
            pooled[labels == label] = value
        return pooled


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """Conformal quantile of nonconformity scores at the requested coverage.

    Uses the finite-sample corrected rank ceil((n + 1) * coverage) so the guarantee holds for
    small calibration sets too.
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    n = len(scores)
    if n == 0:
        raise ValueError("conformal calibration needs at least one row")
    rank = min(int(np.ceil((n + 1) * coverage)), n)
    return float(scores[rank - 1])


def log_residuals(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``log(actual) - log(predicted)``, both floored above zero."""
    actual = np.maximum(np.asarray(actual, dtype=float), _MIN_PRICE)
    predicted = np.maximum(np.asarray(predicted, dtype=float), _MIN_PRICE)
    return np.log(actual) - np.log(predicted)


def _regressor(final: Any) -> Any:
    """The tree model inside the pipeline's last step (unwrapping the log-target wrapper)."""
    return getattr(final, "regressor_", final)
