"""Figures and faults of one column: the drift score per feature (Evidently's, judged with
our direction), its missing share and most frequent value, and the checks on them
(``monitoring.columns``) that a share of drifted features cannot see: one feature far beyond
its threshold, missing values the reference did not have, a frozen input.

A new single-column check lives here whole: its measurement (when the figures below do not
already hold it), its rule returning a :class:`housing.run_summary.Check`, and its entry in
:func:`column_checks`; its setting is a field of ``ColumnChecksConfig``. The verdict, the run
summary, the report, MLflow and the CLI list checks generically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from housing.config import P_VALUE_DRIFT_METHODS, Settings
from housing.run_summary import Check
from monitoring.performance import upper_quantile


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    threshold: float
    score: float
    drifted: bool


@dataclass(frozen=True)
class ColumnQuality:
    """Missing share and the share of the most frequent value, in the window and reference."""

    column: str
    rows: int
    reference_rows: int
    missing: float
    reference_missing: float
    top_share: float
    reference_top_share: float


def is_drifted(method: str, score: float, threshold: float) -> bool:
    """p-value methods drift below the threshold, distances at or above it."""
    if method in P_VALUE_DRIFT_METHODS:
        return score < threshold
    return score >= threshold


def _top_share(values: pd.Series) -> float:
    present = values.dropna()
    return float(present.value_counts(normalize=True).iloc[0]) if len(present) else 0.0


def column_quality(
    current: pd.DataFrame, reference: pd.DataFrame, columns: list[str]
) -> list[ColumnQuality]:
    return [
        ColumnQuality(
            column=column,
            rows=len(current),
            reference_rows=len(reference),
            missing=float(current[column].isna().mean()) if len(current) else 0.0,
            reference_missing=float(reference[column].isna().mean()) if len(reference) else 0.0,
            top_share=_top_share(current[column]),
            reference_top_share=_top_share(reference[column]),
        )
        for column in columns
    ]


def lone_drift_check(column: ColumnDrift, multiple: float) -> Check:
    """One feature far beyond its threshold: a distance above ``multiple`` x threshold, or a
    p-value below threshold / ``multiple``."""
    if column.method in P_VALUE_DRIFT_METHODS:
        limit = column.threshold / multiple
        breached = column.score < limit
    else:
        limit = column.threshold * multiple
        breached = column.score >= limit
    return Check(
        name=f"drift.{column.column}",
        value=column.score,
        limit=limit,
        breached=breached,
        text=(
            f"{column.column} drifted on its own: {column.method} {column.score:.3f} against "
            f"{multiple:g} x threshold {column.threshold:g} = {limit:.3g}"
        ),
    )


def missing_check(quality: ColumnQuality, margin: float, tail: float) -> Check:
    """Missing share above the reference's by more than ``margin``, beyond sampling noise."""
    z = upper_quantile(tail)
    difference = quality.missing - quality.reference_missing
    se = math.sqrt(
        quality.missing * (1 - quality.missing) / max(quality.rows, 1)
        + quality.reference_missing
        * (1 - quality.reference_missing)
        / max(quality.reference_rows, 1)
    )
    low = difference - z * se
    return Check(
        name=f"missing.{quality.column}",
        value=quality.missing,
        low=quality.reference_missing + low,
        high=quality.reference_missing + difference + z * se,
        reference=quality.reference_missing,
        limit=quality.reference_missing + margin,
        breached=low > margin,
        text=(
            f"{quality.column} missing in {quality.missing:.1%} of rows against "
            f"{quality.reference_missing:.1%} in the reference (margin {margin:.0%})"
        ),
    )


def constant_check(quality: ColumnQuality, share: float) -> Check:
    """One value fills ``share`` of the window but not of the reference: a frozen input."""
    return Check(
        name=f"constant.{quality.column}",
        value=quality.top_share,
        reference=quality.reference_top_share,
        limit=share,
        breached=quality.top_share >= share > quality.reference_top_share,
        text=(
            f"{quality.column} is nearly constant: one value in {quality.top_share:.1%} of "
            f"rows against {quality.reference_top_share:.1%} in the reference"
        ),
    )


def column_checks(
    drift: list[ColumnDrift], quality: list[ColumnQuality], settings: Settings
) -> list[Check]:
    """Every single-column check of the features (``drift``: the features' scores only)."""
    rules = settings.monitoring.columns
    # The missing-value checks share the performance false-alarm rate, one part per feature.
    tail = settings.monitoring.performance.false_alarm_rate / max(len(quality), 1)
    return [
        *(lone_drift_check(c, rules.drift_multiple) for c in drift),
        *(missing_check(q, rules.missing_margin, tail) for q in quality),
        *(constant_check(q, rules.constant_share) for q in quality),
    ]
