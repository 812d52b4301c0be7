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
from sklearn.neighbors import KDTree

from housing.config import FeatureEngineeringConfig, FeatureSpec

# Flat projection of degrees to km for neighbour distances: 111.2 km per degree of latitude,
# longitude shrunk by cos(latitude) at the middle of the data (California spans 32-42 N).
_KM_PER_DEGREE = 111.2
_REFERENCE_LATITUDE = 37.0
# A target is never allowed to reach zero before taking logs.
_MIN_TARGET = 1e-6


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
    * ``centres``: ``(longitude, latitude, {name: (lon, lat)})`` or None; adds the distance (km)
      to each named place, e.g. the large metropolitan centres.
    * ``neighbours``: ``(longitude, latitude, [k, ...])`` or None; adds, for each ``k``, the mean
      log target of the ``k`` nearest *training* rows. Fitted on the training rows only; on the
      rows it is fitted on (``fit_transform``) each row is left out of its own neighbourhood, so
      the feature never sees a row's own price (no leakage into cross-validation or the fit).
    """

    def __init__(
        self,
        numeric: list[str] | None = None,
        categories: dict[str, list[str]] | None = None,
        ratios: list[tuple[str, str, str]] | None = None,
        rotation: tuple[str, str, list[float]] | None = None,
        *,
        centres: tuple[str, str, dict[str, tuple[float, float]]] | None = None,
        neighbours: tuple[str, str, list[int]] | None = None,
    ) -> None:
        self.numeric = numeric
        self.categories = categories
        self.ratios = ratios
        self.rotation = rotation
        self.centres = centres
        self.neighbours = neighbours

    def fit(self, frame: pd.DataFrame, y: Any = None) -> HousingFeatures:
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        self.neighbour_tree_ = None
        if self.neighbours:
            if y is None:
                raise ValueError("neighbour price features need the target to fit")
            points = self._points(frame, self.neighbours[0], self.neighbours[1])
            known = np.all(np.isfinite(points), axis=1)
            self.neighbour_tree_ = KDTree(points[known])
            target = np.asarray(y, dtype=float)[known]
            self.neighbour_log_target_ = np.log(np.maximum(target, _MIN_TARGET))
        return self

    def fit_transform(self, frame: pd.DataFrame, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then transform with each training row left out of its own neighbourhood."""
        self.fit(frame, y)
        return self._transform(frame, leave_one_out=True)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self._transform(frame, leave_one_out=False)

    def _names(self) -> list[str]:
        names = list(self.numeric or [])
        names += [name for name, _, _ in self.ratios or []]
        if self.rotation:
            for angle in self.rotation[2]:
                names += [f"rot{angle:g}_x", f"rot{angle:g}_y"]
        if self.centres:
            names += [f"km_to_{name}" for name in self.centres[2]]
        if self.neighbours:
            names += [f"neighbour_log_target_{k}" for k in self.neighbours[2]]
        names += list(self.categories or {})
        return names

    @staticmethod
    def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
        column = frame[name]
        if column.dtype == np.float64:  # the service's frames: nothing to coerce
            return column.to_numpy()
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    @staticmethod
    def _km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Coordinates in km on a local flat projection (good to ~1% across California).

        The operation order is part of the fitted model: neighbours at tied distances (many
        blocks share a location) are chosen by these exact floats.
        """
        shrink = math.cos(math.radians(_REFERENCE_LATITUDE))
        return np.column_stack([lon * _KM_PER_DEGREE * shrink, lat * _KM_PER_DEGREE])

    @classmethod
    def _points(cls, frame: pd.DataFrame, longitude: str, latitude: str) -> np.ndarray:
        return cls._km(cls._numbers(frame, longitude), cls._numbers(frame, latitude))

    def _neighbour_columns(self, points: np.ndarray, leave_one_out: bool) -> list[np.ndarray]:
        assert self.neighbours is not None
        ks = list(self.neighbours[2])
        known = np.all(np.isfinite(points), axis=1)
        result = [np.full(len(points), np.nan) for _ in ks]
        tree = self.neighbour_tree_
        if tree is None or not known.any():
            return result
        extra = 1 if leave_one_out else 0
        k_max = min(max(ks) + extra, tree.data.shape[0])
        _, index = tree.query(points[known], k=k_max)
        if leave_one_out:
            # The row itself is at distance 0 (first, or tied with duplicates of its location):
            # drop it where found, else drop the farthest so every row keeps k_max - 1.
            own = np.flatnonzero(known)
            is_self = index == own[:, None]
            is_self[~is_self.any(axis=1), -1] = True
            index = index[~is_self].reshape(len(index), k_max - 1)
        values = self.neighbour_log_target_[index]
        for column, k in zip(result, ks, strict=True):
            column[known] = values[:, :k].mean(axis=1)
        return result

    def _transform(self, frame: pd.DataFrame, *, leave_one_out: bool) -> np.ndarray:
        # Each input column is converted once per call: on the service's small batches the
        # pandas cost of a column access (not the arithmetic) was most of this step -- 6 ms of
        # a 15-row call when every ratio, rotation and distance converted its columns again.
        converted: dict[str, np.ndarray] = {}

        def numbers(name: str) -> np.ndarray:
            if name not in converted:
                converted[name] = self._numbers(frame, name)
            return converted[name]

        columns: list[np.ndarray] = [numbers(name) for name in self.numeric or []]
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
        if self.centres:
            points = self._km(numbers(self.centres[0]), numbers(self.centres[1]))
            for lon, lat in self.centres[2].values():
                centre = self._km(np.array([lon]), np.array([lat]))[0]
                columns.append(np.hypot(*(points - centre).T))
        if self.neighbours:
            points = self._km(numbers(self.neighbours[0]), numbers(self.neighbours[1]))
            columns += self._neighbour_columns(points, leave_one_out)
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
    centres = engineering.distances_to
    neighbours = engineering.neighbour_prices
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
        centres=(
            centres.longitude,
            centres.latitude,
            {name: (place[0], place[1]) for name, place in centres.places.items()},
        )
        if centres
        else None,
        neighbours=(neighbours.longitude, neighbours.latitude, list(neighbours.k))
        if neighbours
        else None,
    )
