"""The registered MLflow model: a pyfunc around :class:`~housing.pricing.PricingModel`.

Other tools (``mlflow.pyfunc.load_model("models:/housing-price@champion")``, ``mlflow models
predict``/``serve``, Spark UDFs) get the same price *and* interval as the service. The signature
comes from the configuration: numeric columns are declared ``any`` so integer and float columns
are both accepted (MLflow refuses int64 for a ``double`` column, and a CSV of whole numbers
reads as int64), category columns are strings, and nullable features are optional. The model
coerces numbers itself, as the pipeline always did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from housing.config import Settings

# Name of the pickled PricingModel among the pyfunc's artifacts.
ARTIFACT = "pricing_model"
OUTPUT_COLUMNS = ("price", "price_low", "price_high")


class PricingPyfunc(PythonModel):
    """Raw house records in; ``price``, ``price_low``, ``price_high`` out (one row per house)."""

    def load_context(self, context: Any) -> None:
        with Path(context.artifacts[ARTIFACT]).open("rb") as handle:
            self.pricing = cloudpickle.load(handle)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input).copy()
        for name in self.pricing.feature_names:
            if name not in frame.columns:  # an optional (nullable) column left out entirely
                frame[name] = np.nan
        estimates = self.pricing.predict(frame)
        return pd.DataFrame(
            dict(zip(OUTPUT_COLUMNS, (estimates.price, estimates.low, estimates.high), strict=True))
        )


def signature(settings: Settings) -> Any:
    """Input schema from ``dataset.features`` (nullable = optional); three double outputs."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = [
        ColSpec(
            "string" if spec.type == "category" else AnyType(),
            name,
            required=not spec.nullable,
        )
        for name, spec in settings.dataset.features.items()
    ]
    outputs = [ColSpec("double", name) for name in OUTPUT_COLUMNS]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))
