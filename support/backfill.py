"""Write scored houses into the prediction log the way the service does, without a server.

Used to fill a log for the monitoring cost benchmark and by tests
that need a log of a given shape (many rows, several model versions, corrupted feedback).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert

from housing.config import Settings
from housing.pricing import PricingModel
from housing.records import frame_to_records
from housing.store.tables import feedback, predictions, shadow_predictions

_CHUNK = 5000


def log_scored_houses(
    engine: Engine,
    settings: Settings,
    pricing: PricingModel,
    houses: pd.DataFrame,
    *,
    model_version: str,
    bento_tag: str,
    start: datetime,
    spacing: timedelta,
    actual_prices: Sequence[float | None] | None = None,
) -> list[str]:
    """Price ``houses`` with ``pricing`` and log them (plus feedback where a price is given).

    Rows get ``created_at = start + i * spacing``; returns the prediction ids in row order.
    """
    estimates = pricing.predict(houses)
    records = frame_to_records(houses, settings.feature_names)
    ids = [str(uuid.uuid4()) for _ in records]
    rows = [
        {
            "prediction_id": ids[i],
            "created_at": start + i * spacing,
            "model_version": model_version,
            "bento_tag": bento_tag,
            "protocol": "replay",
            "features": records[i],
            "price": float(estimates.price[i]),
            "price_low": float(estimates.low[i]),
            "price_high": float(estimates.high[i]),
            "latency_ms": 0.0,
        }
        for i in range(len(records))
    ]
    labels = [
        {
            "prediction_id": ids[i],
            "actual_price": float(price),
            "received_at": rows[i]["created_at"],
        }
        for i, price in enumerate(actual_prices if actual_prices is not None else [])
        if price is not None and not (isinstance(price, float) and np.isnan(price))
    ]
    with engine.begin() as connection:
        for offset in range(0, len(rows), _CHUNK):
            connection.execute(insert(predictions), rows[offset : offset + _CHUNK])
        for offset in range(0, len(labels), _CHUNK):
            connection.execute(insert(feedback), labels[offset : offset + _CHUNK])
    return ids


def log_shadow_prices(
    engine: Engine,
    pricing: PricingModel,
    houses: pd.DataFrame,
    ids: Sequence[str],
    *,
    shadow_version: str,
    created_at: datetime,
) -> None:
    """Price ``houses`` with a shadow model and log them under the champion's ``ids`` (as the
    service's shadow scorer does)."""
    estimates = pricing.predict(houses)
    rows = [
        {
            "prediction_id": prediction_id,
            "created_at": created_at,
            "shadow_version": shadow_version,
            "price": float(estimates.price[i]),
            "price_low": float(estimates.low[i]),
            "price_high": float(estimates.high[i]),
        }
        for i, prediction_id in enumerate(ids)
    ]
    with engine.begin() as connection:
        for offset in range(0, len(rows), _CHUNK):
            connection.execute(insert(shadow_predictions), rows[offset : offset + _CHUNK])
