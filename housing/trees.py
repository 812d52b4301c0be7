"""Small model batches through one native call: treelite's GTIL for fitted boosted trees.

scikit-learn's ``HistGradientBoostingRegressor.predict`` calls every tree from Python, so a
model call costs a fixed few milliseconds whatever its size: with the 1,000 + 120 trees of
the California price and error models, one row took 11.5 ms and fifteen rows 16.5 ms, while
treelite's GTIL scores all trees in one native call (one row 0.37 ms, fifteen 2.6 ms). GTIL's
traversal is slower per row, though (1,000 rows: 267 us a row against 93), so only batches up
to ``service.small_batch_rows`` take it; larger ones stay with scikit-learn. Figures: one run
of ``benchmarks/tree_inference.py`` on this 2-core machine (docs/benchmarks.md has the table).
Both give the same sums of the same trees (largest difference seen: 5e-14 in log price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Losses whose prediction is the raw sum of the trees (identity link): GTIL's output as is.
_IDENTITY_LOSSES = frozenset({"squared_error", "absolute_error", "quantile"})


@dataclass(frozen=True)
class SmallBatchTrees:
    """One fitted ``HistGradientBoostingRegressor`` with a GTIL copy for batches up to
    ``max_rows``. Built at load time from the estimator; never pickled with the model."""

    estimator: Any
    compiled: Any
    max_rows: int
    threads: int

    @classmethod
    def of(cls, estimator: Any, max_rows: int, threads: int) -> SmallBatchTrees | None:
        """The accelerated estimator, or None where GTIL would not give the same numbers."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        if max_rows <= 0 or not isinstance(estimator, HistGradientBoostingRegressor):
            return None
        if estimator.loss not in _IDENTITY_LOSSES:
            return None
        import treelite.sklearn

        return cls(estimator, treelite.sklearn.import_model(estimator), max_rows, threads)

    def serves(self, estimator: Any, rows: int) -> bool:
        return estimator is self.estimator and 0 < rows <= self.max_rows

    def predict(self, design: np.ndarray) -> np.ndarray:
        from treelite import gtil

        data = np.ascontiguousarray(design, dtype=np.float64)
        return gtil.predict(self.compiled, data, nthread=self.threads).reshape(-1)
