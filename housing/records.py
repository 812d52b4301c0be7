"""House records (JSON-like dicts) to the DataFrame layout the model was trained on.

The service receives lists of dicts, batch scoring reads CSV files, the monitor reads JSON from
the prediction log; all of them hand the model the same column order and dtypes as training
(numbers float64, categories as Python strings or None), so a price never depends on the path a
record took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from housing.config import Settings


def records_to_frame(
    records: Sequence[Mapping[str, Any]], settings: Settings, *, with_target: bool = False
) -> pd.DataFrame:
    """One row per record, configured feature columns in order; absent keys become missing.

    Values are not validated here (see :mod:`housing.validation`); numbers that cannot be parsed
    become NaN so that a caller that skipped validation gets "missing", never an exception.
    """
    names = settings.feature_names + ([settings.dataset.target] if with_target else [])
    columns: dict[str, Any] = {}
    for name in names:
        spec = settings.dataset.features.get(name)
        values = [record.get(name) for record in records]
        if spec is not None and spec.type == "category":
            columns[name] = pd.Series([None if v is None else str(v) for v in values], dtype=object)
        else:
            columns[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(
                "float64"
            )
    return pd.DataFrame(columns, columns=names)


def validated_records_frame(
    records: Sequence[Mapping[str, Any]], settings: Settings
) -> pd.DataFrame:
    """:func:`records_to_frame` for records that passed validation (numbers are ``int``,
    ``float`` or ``None``, categories ``str`` or ``None``, every feature present): the same
    frame -- columns, dtypes, values -- built by numpy per column instead of parsing each value
    with ``pd.to_numeric`` (a third of the time for 1,000 records)."""
    columns: dict[str, Any] = {}
    for name, spec in settings.dataset.features.items():
        values = [record[name] for record in records]
        if spec.type == "category":
            columns[name] = pd.Series(np.array(values, dtype=object), dtype=object)
        else:
            columns[name] = np.array(values, dtype=np.float64)  # None -> NaN
    return pd.DataFrame(columns, columns=settings.feature_names)


def frame_to_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The inverse for logging: plain Python values, NaN as None (JSON has no NaN)."""
    out: list[dict[str, Any]] = []
    subset = frame[list(columns)].astype(object)
    for row in subset.itertuples(index=False, name=None):
        out.append(
            {
                name: None if (isinstance(v, float) and np.isnan(v)) or v is None else v
                for name, v in zip(columns, row, strict=True)
            }
        )
    return out
