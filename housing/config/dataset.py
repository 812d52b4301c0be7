"""``dataset``, ``split`` and ``feature_engineering``: what a house record is and how it is
split and turned into model features.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from housing.config.base import Fraction, PositiveInt, ProjectPath, Section


class FeatureSpec(Section):
    """One input column of a house record: its type, unit and what values are plausible."""

    type: Literal["float", "int", "category"]
    description: str = ""
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    nullable: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if self.type == "category":
            if not self.categories:
                raise ValueError("a category feature needs a non-empty 'categories' list")
            if self.min is not None or self.max is not None:
                raise ValueError("a category feature cannot have 'min'/'max'")
        elif self.categories is not None:
            raise ValueError("only category features can have 'categories'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class DatasetConfig(Section):
    name: str = Field(min_length=1)
    path: ProjectPath
    sha256: str | None = Field(
        default=None, description="expected checksum of the file; checked before training"
    )
    target: str = Field(min_length=1)
    target_unit: str = "USD"
    target_min: float = Field(description="smallest plausible target value")
    target_max: float = Field(description="largest plausible target value")
    features: dict[str, FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DatasetConfig:
        if self.target in self.features:
            raise ValueError(f"the target '{self.target}' cannot also be a feature")
        if self.target_min >= self.target_max:
            raise ValueError("'target_min' must be smaller than 'target_max'")
        return self


class StratifyConfig(Section):
    column: str
    bins: list[float] = Field(min_length=3, description="bin edges; use .inf for open ends")

    @model_validator(mode="after")
    def _increasing(self) -> StratifyConfig:
        if any(b <= a for a, b in zip(self.bins, self.bins[1:], strict=False)):
            raise ValueError("'bins' must be strictly increasing")
        return self


class SplitConfig(Section):
    holdout_fraction: Fraction = 0.2
    seed: int = 42
    cv_folds: int = Field(default=5, ge=2)
    cv_jobs: PositiveInt = Field(default=2, description="parallel CV fits (processes)")
    stratify: StratifyConfig | None = None


class RatioFeature(Section):
    name: str
    numerator: str
    denominator: str


class RotatedCoordinates(Section):
    longitude: str
    latitude: str
    angles_deg: list[float] = Field(min_length=1)


class PlaceDistances(Section):
    longitude: str
    latitude: str
    places: dict[str, tuple[float, float]] = Field(
        min_length=1, description="name: [longitude, latitude]; adds km_to_<name>"
    )


class NeighbourPrices(Section):
    longitude: str
    latitude: str
    k: list[PositiveInt] = Field(
        min_length=1, description="neighbourhood sizes; each adds the mean log target of k rows"
    )


class FeatureEngineeringConfig(Section):
    ratios: list[RatioFeature] = []
    rotated_coordinates: RotatedCoordinates | None = None
    distances_to: PlaceDistances | None = None
    neighbour_prices: NeighbourPrices | None = None
