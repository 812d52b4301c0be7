"""The default-BentoML peer: what a user gets from ``@bentoml.api(batchable=True)`` and no tuning.

Served by the serving benchmark (``benchmarks.serving --servers bentoml-default``) with
``bentoml serve benchmarks.peer_bentoml:DefaultBatchable`` in its own process. It loads the same
exported scikit-learn pipeline (joblib, path in ``$PEER_MODEL``) and takes the same request body
as the service (``{"houses": [...]}``); the answer is one price per house. No logging, BentoML's
defaults everywhere else (one worker, default batch size and latency).
"""

from __future__ import annotations

import os

import bentoml
import joblib
import pandas as pd
from pydantic import BaseModel


class House(BaseModel):
    longitude: float
    latitude: float
    housing_median_age: float
    total_rooms: float
    total_bedrooms: float | None = None
    population: float
    households: float
    median_income: float
    ocean_proximity: str


@bentoml.service
class DefaultBatchable:
    def __init__(self) -> None:
        self.pipeline = joblib.load(os.environ["PEER_MODEL"])

    @bentoml.api(batchable=True)
    def predict(self, houses: list[House]) -> list[float]:
        frame = pd.DataFrame([house.model_dump() for house in houses])
        frame["total_bedrooms"] = frame["total_bedrooms"].astype("float64")
        return [float(price) for price in self.pipeline.predict(frame)]
