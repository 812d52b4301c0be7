"""Feature engineering that travels inside the saved model.

The fitted pipeline starts with :class:`HousingFeatures`, so every consumer (service, batch
scoring, monitoring, retraining) sends raw house records and never re-implements ratios, rotated
coordinates or category encoding. It lives in the ``housing`` package (not ``training``) because
unpickling a model needs this class, and the service only ships ``housing``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from housing.config import FeatureEngineeringConfig, FeatureSpec


class HousingFeatures(TransformerMixin, BaseEstimator):
    """Raw records -> a numeric matrix: numbers, ratios, rotated coordinates, category codes.

    Parameters are plain dicts/lists (not config objects) so the fitted transformer pickles
    without dragging pydantic models along and stays readable in ``get_params()``.

    * ``numeric``: names of numeric input columns, passed through as float (NaN kept: the
      imputer or the estimator decides what missing means).
    * ``categories``: ``{column: [allowed values]}``; each becomes one column of integer codes
      in the configured order. Unknown or missing values become NaN, so an unseen category is
      treated as "missing" instead of crashing a prediction.
    * ``ratios``: ``[(name, numerator, denominator)]``; a zero denominator gives NaN.
    * ``rotation``: ``(longitude, latitude, [angles in degrees])`` or None; adds the coordinates
      rotated by each angle so trees can split along diagonal structures such as a coastline.
    """

    def __init__(
        self,
        numeric: list[str] | None = None,
        categories: dict[str, list[str]] | None = None,
        ratios: list[tuple[str, str, str]] | None = None,
        rotation: tuple[str, str, list[float]] | None = None,
    ) -> None:
        self.numeric = numeric
        self.categories = categories
        self.ratios = ratios
        self.rotation = rotation

    def fit(self, frame: pd.DataFrame, y: Any = None) -> HousingFeatures:
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def _names(self) -> list[str]:
        names = list(self.numeric or [])
        names += [name for name, _, _ in self.ratios or []]
        if self.rotation:
            for angle in self.rotation[2]:
                names += [f"rot{angle:g}_x", f"rot{angle:g}_y"]
        names += list(self.categories or {})
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        columns: list[np.ndarray] = []

        def numbers(name: str) -> np.ndarray:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )

        columns += [numbers(name) for name in self.numeric or []]
        with np.errstate(divide="ignore", invalid="ignore"):
            for _, numerator, denominator in self.ratios or []:
                ratio = numbers(numerator) / numbers(denominator)
                ratio[~np.isfinite(ratio)] = np.nan
                columns.append(ratio)
        if self.rotation:
            lon, lat = numbers(self.rotation[0]), numbers(self.rotation[1])
            for angle in self.rotation[2]:
                rad = math.radians(angle)
                columns.append(lon * math.cos(rad) - lat * math.sin(rad))
                columns.append(lon * math.sin(rad) + lat * math.cos(rad))
        for name, allowed in (self.categories or {}).items():
            codes = {value: float(i) for i, value in enumerate(allowed)}
            columns.append(
                np.array([codes.get(value, np.nan) for value in frame[name]], dtype=float)
            )
        if not columns:
            return np.empty((len(frame), 0))
        return np.column_stack(columns)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self._names(), dtype=object)

    def categorical_mask(self) -> list[bool]:
        """Which output columns hold category codes (for estimators with native support)."""
        names = self._names()
        n_categorical = len(self.categories or {})
        return [False] * (len(names) - n_categorical) + [True] * n_categorical


def features_from_config(
    features: dict[str, FeatureSpec], engineering: FeatureEngineeringConfig
) -> HousingFeatures:
    """Build the transformer from the ``dataset.features`` and ``feature_engineering`` config."""
    rotation = engineering.rotated_coordinates
    return HousingFeatures(
        numeric=[name for name, spec in features.items() if spec.type != "category"],
        categories={
            name: list(spec.categories or [])
            for name, spec in features.items()
            if spec.type == "category"
        },
        ratios=[(r.name, r.numerator, r.denominator) for r in engineering.ratios],
        rotation=(rotation.longitude, rotation.latitude, list(rotation.angles_deg))
        if rotation
        else None,
    )
