"""``dataset``, ``split`` and ``feature_engineering``: what a house record is and how it is
split and turned into model features.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from housing.config.base import Fraction, PositiveInt, ProjectPath, Section


class FeatureSpec(Section):
    """One input column of a house record: its type, unit and what values are plausible."""

    type: Literal["float", "int", "category"] = Field(
        description="float or int: a number (int must be whole); category: one of `categories`"
    )
    description: str = Field(
        default="",
        description="what the column means; shown in the API documents, gRPC GetModel and the "
        "model card",
    )
    unit: str | None = Field(
        default=None,
        description="unit of the values (e.g. `10k USD`); shown with the feature, never converted",
    )
    min: float | None = Field(
        default=None,
        description="smallest accepted value: a dataset row below it fails validation, an API "
        "record below it is refused (null: no lower bound; numbers only)",
    )
    max: float | None = Field(
        default=None,
        description="largest accepted value: a dataset row above it fails validation, an API "
        "record above it is refused (null: no upper bound; numbers only)",
    )
    categories: list[str] | None = Field(
        default=None,
        description="the accepted values of a category feature, in the order of its codes "
        "(required for category, not allowed otherwise)",
    )
    nullable: bool = Field(
        default=False,
        description="true: the value may be missing (null), and the model handles it as missing; "
        "false: a missing value is refused",
    )

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
    """The training data: one CSV file, its target column and every input feature."""

    name: str = Field(
        min_length=1,
        description="name of the dataset, recorded with each training run and model version",
    )
    path: ProjectPath = Field(description="the CSV file training and retraining read")
    sha256: str | None = Field(
        default=None, description="expected checksum of the file; checked before training"
    )
    target: str = Field(min_length=1, description="the CSV column holding the price to predict")
    target_unit: str = Field(
        default="USD", description="unit of the target (price) column, shown on the model card"
    )
    target_min: float = Field(
        description="smallest plausible target value (in target_unit): a dataset row below it "
        "fails validation; also bounds the price histogram of the service metrics"
    )
    target_max: float = Field(
        description="largest plausible target value (in target_unit): a dataset row above it "
        "fails validation; also bounds the price histogram of the service metrics"
    )
    features: dict[str, FeatureSpec] = Field(
        min_length=1,
        description="the input columns of a house record by CSV column name; the API request "
        "models, validation and drift columns are generated from them",
    )

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DatasetConfig:
        if self.target in self.features:
            raise ValueError(f"the target '{self.target}' cannot also be a feature")
        if self.target_min >= self.target_max:
            raise ValueError("'target_min' must be smaller than 'target_max'")
        return self


class StratifyConfig(Section):
    """Stratify the holdout split by bins of one numeric column."""

    column: str = Field(
        description="numeric feature whose bins the holdout mirrors (e.g. income categories)"
    )
    bins: list[float] = Field(min_length=3, description="bin edges; use .inf for open ends")

    @model_validator(mode="after")
    def _increasing(self) -> StratifyConfig:
        if any(b <= a for a, b in zip(self.bins, self.bins[1:], strict=False)):
            raise ValueError("'bins' must be strictly increasing")
        return self


class SplitConfig(Section):
    """The fixed holdout every model is compared on, and the cross-validation of the rest."""

    holdout_fraction: Fraction = Field(
        default=0.2,
        description="share of the dataset held out as the fixed evaluation set every model is "
        "compared on",
    )
    seed: int = Field(
        default=42,
        description="seed of the holdout split, the CV folds and the retrain bootstrap: the same "
        "seed and data give the same split",
    )
    cv_folds: int = Field(
        default=5,
        ge=2,
        description="cross-validation folds on the training part; the intervals are calibrated "
        "on their out-of-fold residuals",
    )
    cv_jobs: PositiveInt = Field(default=2, description="parallel CV fits (processes)")
    stratify: StratifyConfig | None = Field(
        default=None, description="without it, the holdout is a plain random sample"
    )


class RatioFeature(Section):
    """A model feature made of two columns: ``numerator / denominator`` (NaN when it is 0)."""

    name: str = Field(description="name of the added model feature")
    numerator: str = Field(description="feature divided")
    denominator: str = Field(description="feature divided by")


class RotatedCoordinates(Section):
    """The coordinates rotated by each angle, so trees can cut along a diagonal (a coastline)."""

    longitude: str = Field(description="feature holding the longitude (degrees)")
    latitude: str = Field(description="feature holding the latitude (degrees)")
    angles_deg: list[float] = Field(
        min_length=1,
        description="rotation angles in degrees; each adds two features, rot<angle>_x and "
        "rot<angle>_y",
    )


class PlaceDistances(Section):
    """The distance from each house to named places (e.g. the large metropolitan centres)."""

    longitude: str = Field(description="feature holding the longitude (degrees)")
    latitude: str = Field(description="feature holding the latitude (degrees)")
    places: dict[str, tuple[float, float]] = Field(
        min_length=1,
        description="name: [longitude, latitude] in degrees; each adds the feature km_to_<name> "
        "(distance in km)",
    )


class NeighbourPrices(Section):
    """The mean log price of the nearest training rows (each training row left out of its own)."""

    longitude: str = Field(description="feature holding the longitude (degrees)")
    latitude: str = Field(description="feature holding the latitude (degrees)")
    k: list[PositiveInt] = Field(
        min_length=1, description="neighbourhood sizes; each adds the mean log target of k rows"
    )


class FeatureEngineeringConfig(Section):
    """Model features derived from the raw record inside the model, so every caller (service,
    monitoring, retraining) sends raw records."""

    ratios: list[RatioFeature] = Field(
        default=[], description="ratio features added to the model's inputs ([]: none)"
    )
    rotated_coordinates: RotatedCoordinates | None = None
    distances_to: PlaceDistances | None = None
    neighbour_prices: NeighbourPrices | None = None
