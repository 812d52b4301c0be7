"""The default-BentoML peer: what a user gets from ``@bentoml.api(batchable=True)`` and no tuning.

Served by the serving benchmark (``benchmarks.serving --servers bentoml-default``) with
``bentoml serve benchmarks.peer_bentoml:DefaultBatchable`` in its own process. It loads the same
exported scikit-learn pipeline (joblib, path in ``$PEER_MODEL``) and takes the same request body
as the service (``{"houses": [...]}``); the answer is one price per house. No logging, BentoML's
defaults everywhere else (one worker, default batch size and latency).
"""

from __future__ import annotations

import json
import os
from typing import Any

import bentoml
import joblib
import pandas as pd
from pydantic import create_model

# The house fields as a user would declare them: {"name": ["float" | "str", nullable]} from the
# benchmark (the configured features), in the pipeline's column order.
_FIELDS: dict[str, tuple[str, bool]] = json.loads(os.environ.get("PEER_FEATURES", "{}"))
_TYPES: dict[str, Any] = {"float": float, "str": str}
House = create_model(
    "House",
    **{
        name: ((_TYPES[kind] | None, None) if nullable else (_TYPES[kind], ...))
        for name, (kind, nullable) in _FIELDS.items()
    },
)  # type: ignore[call-overload]


@bentoml.service
class DefaultBatchable:
    def __init__(self) -> None:
        self.pipeline = joblib.load(os.environ["PEER_MODEL"])

    @bentoml.api(batchable=True)
    def predict(self, houses: list[House]) -> list[float]:  # type: ignore[valid-type]
        frame = pd.DataFrame([house.model_dump() for house in houses], columns=list(_FIELDS))
        numbers = [name for name, (kind, _) in _FIELDS.items() if kind == "float"]
        frame[numbers] = frame[numbers].astype("float64")
        return [float(price) for price in self.pipeline.predict(frame)]
