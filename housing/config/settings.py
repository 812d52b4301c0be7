"""The root of the configuration: every section, and the rules that span sections."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from housing.config.base import DEFAULT_CONFIG_NAME, Section
from housing.config.dataset import DatasetConfig, FeatureEngineeringConfig, SplitConfig
from housing.config.model import IntervalConfig, ModelConfig, PromotionConfig, TuningConfig
from housing.config.monitoring import MonitoringConfig, SimulatorConfig
from housing.config.release import DeliveryConfig, RetrainConfig
from housing.config.service import ServiceConfig
from housing.config.storage import BentoMLConfig, MlflowConfig, StorageConfig


class Settings(Section):
    """The whole configuration, its sections in the order of ``configuration.yaml`` (the order of
    docs/configuration.md); ``source`` is the file it came from (not a YAML key)."""

    dataset: DatasetConfig
    split: SplitConfig
    feature_engineering: FeatureEngineeringConfig = FeatureEngineeringConfig()
    model: ModelConfig
    intervals: IntervalConfig = IntervalConfig()
    promotion: PromotionConfig = PromotionConfig()
    tuning: TuningConfig = TuningConfig()
    mlflow: MlflowConfig
    bentoml: BentoMLConfig
    storage: StorageConfig
    service: ServiceConfig
    monitoring: MonitoringConfig
    retrain: RetrainConfig = RetrainConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    source: Path = Field(default=Path(DEFAULT_CONFIG_NAME), exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        features = self.dataset.features
        if self.split.stratify and self.split.stratify.column not in features:
            raise ValueError(
                f"split.stratify.column '{self.split.stratify.column}' is not a dataset feature"
            )
        for ratio in self.feature_engineering.ratios:
            for column in (ratio.numerator, ratio.denominator):
                if column not in features:
                    raise ValueError(
                        f"feature_engineering ratio '{ratio.name}' uses unknown feature '{column}'"
                    )
        rot = self.feature_engineering.rotated_coordinates
        if rot:
            for column in (rot.longitude, rot.latitude):
                if column not in features:
                    raise ValueError(f"rotated_coordinates uses unknown feature '{column}'")
        for spec in [*self.intervals.groups, *filter(None, [self.intervals.mondrian])]:
            feature = features.get(spec.column)
            if feature is None:
                raise ValueError(f"intervals group column '{spec.column}' is not a dataset feature")
            if (feature.type == "category") == (spec.quantiles is not None):
                raise ValueError(
                    f"intervals group '{spec.column}': set 'quantiles' for a numeric column"
                    " and only for a numeric column"
                )
        engineering = self.feature_engineering
        for key, section in (
            ("distances_to", engineering.distances_to),
            ("neighbour_prices", engineering.neighbour_prices),
        ):
            for column in (section.longitude, section.latitude) if section else ():
                if column not in features or features[column].type == "category":
                    raise ValueError(f"{key} uses unknown numeric feature '{column}'")
        for column in self.retrain.correction.features:
            if column not in features or features[column].type == "category":
                raise ValueError(
                    f"retrain.correction.features: '{column}' is not a numeric feature"
                )
        if self.retrain.method == "correction" and not self.retrain.correction.features:
            raise ValueError("retrain.method 'correction' needs retrain.correction.features")
        return self

    @model_validator(mode="after")
    def _scenarios_use_known_features(self) -> Settings:
        features = self.dataset.features
        for name, scenario in self.simulator.scenarios.items():
            where = f"simulator.scenarios.{name}"
            for column in scenario.scale:
                if column not in features or features[column].type == "category":
                    raise ValueError(f"{where}.scale: '{column}' is not a numeric feature")
            for column, weights in scenario.category_weights.items():
                spec = features.get(column)
                if spec is None or spec.type != "category":
                    raise ValueError(f"{where}.category_weights: '{column}' is not a category")
                unknown = set(weights) - set(spec.categories or [])
                if unknown:
                    raise ValueError(
                        f"{where}.category_weights.{column}: unknown categories {sorted(unknown)}"
                    )
        return self

    @property
    def root(self) -> Path:
        """Directory of the configuration file: the anchor of every relative path."""
        return self.source.parent

    @property
    def feature_names(self) -> list[str]:
        return list(self.dataset.features)
