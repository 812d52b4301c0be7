"""One typed configuration object for the whole product.

Everything a user tunes lives in ``configuration.yaml``. It is validated on load so that a typo
fails loudly with the key's dotted path instead of silently falling back to a default, and any
value can be overridden by an environment variable ``HOUSING_<SECTION>__<KEY>[__<SUBKEY>...]``
(nesting separated by a double underscore), which is how containers and CI inject settings.

Relative paths (and relative ``sqlite:///`` URLs) are resolved against the directory of the
configuration file, so commands behave the same from any working directory.

One module per group of sections; import the names from ``housing.config``:

* ``base``: the strict ``Section`` base model, the shared value types, ``ConfigError``;
* ``dataset``: ``dataset``, ``split``, ``feature_engineering``;
* ``model``: ``model``, ``intervals``, ``tuning``, ``promotion``;
* ``storage``: ``mlflow``, ``bentoml``, ``storage``;
* ``service``: ``service``;
* ``monitoring``: ``monitoring``, ``simulator``;
* ``release``: ``retrain``, ``delivery``;
* ``settings``: the root ``Settings`` and the rules that span sections;
* ``loading``: ``load_config`` (the file, ``HOUSING_*`` overrides, one-line errors naming each
  key);
* ``reference``: docs/configuration.md, generated from the fields' descriptions (``make docs``;
  not re-exported, so ``python -m housing.config.reference`` runs it).
"""

from housing.config.base import (
    DEFAULT_CONFIG_NAME,
    ConfigError,
    DatabaseUrl,
    Fraction,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ProjectPath,
    Section,
)
from housing.config.dataset import (
    DatasetConfig,
    FeatureEngineeringConfig,
    FeatureSpec,
    NeighbourPrices,
    PlaceDistances,
    RatioFeature,
    RotatedCoordinates,
    SplitConfig,
    StratifyConfig,
)
from housing.config.loading import (
    CONFIG_ENV,
    ENV_NESTING,
    ENV_PREFIX,
    RESERVED_ENV,
    apply_env_overrides,
    default_config_path,
    load_config,
)
from housing.config.model import (
    GroupSpec,
    IntervalConfig,
    ModelConfig,
    PromotionConfig,
    SearchDimension,
    TuningConfig,
)
from housing.config.monitoring import (
    P_VALUE_DRIFT_METHODS,
    CategoryDriftMethod,
    ColumnChecksConfig,
    DriftConfig,
    MonitoringConfig,
    NumericDriftMethod,
    PerformanceConfig,
    RefusalsConfig,
    ScenarioConfig,
    ScheduleConfig,
    SimulatorConfig,
    WindowConfig,
)
from housing.config.release import CorrectionConfig, DeliveryConfig, RetrainConfig
from housing.config.service import CorsConfig, FeedbackConfig, ServiceConfig, ShadowConfig
from housing.config.settings import Settings
from housing.config.storage import BentoMLConfig, MlflowConfig, StorageConfig

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "ENV_NESTING",
    "ENV_PREFIX",
    "P_VALUE_DRIFT_METHODS",
    "RESERVED_ENV",
    "BentoMLConfig",
    "CategoryDriftMethod",
    "ColumnChecksConfig",
    "ConfigError",
    "CorrectionConfig",
    "CorsConfig",
    "DatabaseUrl",
    "DatasetConfig",
    "DeliveryConfig",
    "DriftConfig",
    "FeatureEngineeringConfig",
    "FeatureSpec",
    "FeedbackConfig",
    "Fraction",
    "GroupSpec",
    "IntervalConfig",
    "MlflowConfig",
    "ModelConfig",
    "MonitoringConfig",
    "NeighbourPrices",
    "NonNegativeInt",
    "NumericDriftMethod",
    "PerformanceConfig",
    "PlaceDistances",
    "PositiveFloat",
    "PositiveInt",
    "ProjectPath",
    "PromotionConfig",
    "RatioFeature",
    "RefusalsConfig",
    "RetrainConfig",
    "RotatedCoordinates",
    "ScenarioConfig",
    "ScheduleConfig",
    "SearchDimension",
    "Section",
    "ServiceConfig",
    "Settings",
    "ShadowConfig",
    "SimulatorConfig",
    "SplitConfig",
    "StorageConfig",
    "StratifyConfig",
    "TuningConfig",
    "WindowConfig",
    "apply_env_overrides",
    "default_config_path",
    "load_config",
]
