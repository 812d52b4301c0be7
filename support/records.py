"""Rows of the configured dataset as the API records a client sends (missing values as null)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from housing.config import Settings
from housing.records import frame_to_records


def dataset_records(
    settings: Settings,
    count: int,
    *,
    seed: int | None = None,
    offset: int = 0,
    replace: bool = False,
) -> list[dict[str, Any]]:
    """``count`` rows from row ``offset`` on, or a seeded sample of ``count`` rows."""
    frame = pd.read_csv(settings.dataset.path)
    if seed is None:
        frame = frame.iloc[offset : offset + count]
    else:
        frame = frame.sample(count, random_state=seed, replace=replace)
    return frame_to_records(frame, settings.feature_names)
