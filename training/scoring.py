"""Batch scoring: price every house in a CSV with the champion, keeping every input row.

Rows that fail validation are not dropped: they stay in the output with empty prices and the
reason in an ``error`` column, and are reported by line number, so a downstream join on row
order or on the user's own id column still lines up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from housing import bundle, registry
from housing.config import Settings
from housing.validation import DataSource, ValidationIssue, read_csv, split_valid

PRICE_COLUMNS = ("price", "price_low", "price_high")
ERROR_COLUMN = "error"
VERSION_COLUMN = "model_version"


@dataclass(frozen=True)
class ScoringResult:
    output: Path
    rows: int
    scored: int
    issues: list[ValidationIssue]
    version: int


def score_csv(settings: Settings, source: Path, output: Path) -> ScoringResult:
    """Score ``source`` into ``output`` with the current champion.

    Raises :class:`~housing.validation.DataValidationError` when the file as a whole is unusable
    (unreadable, empty, a feature column missing) and :class:`registry.RegistryError` when there
    is no champion. The target column, if present, is ignored.
    """
    frame = read_csv(source)
    valid, issues = split_valid(frame, settings, with_target=False, source=DataSource.csv(source))
    champion = registry.get_champion(settings)
    if champion is None:
        raise registry.RegistryError("there is no champion model yet: run `housing train` first")
    model = bundle.load_model(settings, champion)
    result = frame.copy()
    for column in PRICE_COLUMNS:
        result[column] = np.nan
    if len(valid):
        estimates = model.pricing.predict(valid)
        positions = result.index.get_indexer(valid.index)
        for column, values in zip(
            PRICE_COLUMNS, (estimates.price, estimates.low, estimates.high), strict=True
        ):
            result.iloc[positions, result.columns.get_loc(column)] = np.round(values, 2)
    errors = pd.Series([""] * len(result), index=result.index, dtype=object)
    for issue in issues:
        position = result.index[issue.row]
        text = f"{issue.column}: {issue.reason}"
        errors[position] = f"{errors[position]}; {text}" if errors[position] else text
    result[ERROR_COLUMN] = errors
    result[VERSION_COLUMN] = model.version
    output.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(output, index=False)
    return ScoringResult(
        output=output, rows=len(frame), scored=len(valid), issues=issues, version=model.version
    )
