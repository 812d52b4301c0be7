"""Is the model worse on this window than on its reference rows, beyond sampling noise?

The error sample of a window (:class:`ErrorSample`, measured here from the labelled rows) and
three checks on its log error e = log(predicted / actual), each comparing the window with the
reference rows stored with the model version (holdout and calibration rows it never fitted):

- bias: mean(e) of the window minus the reference's; degraded when its confidence interval lies
  wholly outside +-``bias_margin``. A market that moved by 10% shifts this by log(1.1) = 0.095.
- error size: RMS(e) of the window over the reference's; degraded when the interval's lower
  bound is above 1 + ``rms_margin`` (delta method on the log of the mean square).
- coverage: share of true prices inside the interval; degraded when its upper bound (Wilson) is
  below ``coverage_floor``.

Each interval counts the noise of both samples, so a window of 100 labels is not judged as if
it were exact. ``false_alarm_rate`` is shared equally by the three checks. A breach is
significant at any label count; ``healthy`` needs :func:`min_labels` labels, enough to catch a
price change of ``smallest_shift`` with probability ``power``; fewer labels and no breach is
``insufficient_data``. Measured rates: tests/integration/test_monitor_error_rates.py and
docs/monitoring.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from housing.config import PerformanceConfig
from housing.run_summary import Check, PerformanceSummary, Status
from monitoring.window import ACTUAL, HIGH, LOW, PREDICTION

CHECKS = 3  # bias, error size, coverage share the false-alarm rate


@dataclass(frozen=True)
class ErrorSample:
    """Per labelled row: log(predicted / actual), dollar error, and whether the interval held.

    The log error is the scale-free figure performance is judged on: a house twice as dear
    with twice the dollar error has the same log error.
    """

    log_error: np.ndarray
    dollar_error: np.ndarray
    actual: np.ndarray
    covered: np.ndarray | None

    def __len__(self) -> int:
        return len(self.log_error)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> ErrorSample:
        labelled = frame[frame[ACTUAL].notna() & frame[PREDICTION].notna()]
        actual = np.maximum(labelled[ACTUAL].to_numpy(dtype=float), 1e-6)
        predicted = np.maximum(labelled[PREDICTION].to_numpy(dtype=float), 1e-6)
        covered = None
        if LOW in labelled and HIGH in labelled and labelled[[LOW, HIGH]].notna().all().all():
            covered = (labelled[LOW].to_numpy() <= actual) & (actual <= labelled[HIGH].to_numpy())
        return cls(
            log_error=np.log(predicted) - np.log(actual),
            dollar_error=predicted - actual,
            actual=actual,
            covered=covered,
        )


def upper_quantile(tail: float) -> float:
    """z such that P(Z > z) = tail for a standard normal Z."""
    return NormalDist().inv_cdf(1.0 - tail)


def min_labels(rules: PerformanceConfig, reference_sd: float) -> int:
    """Labels needed to catch a price change of ``smallest_shift`` with ``power``.

    The bias check sees a shift of log(1 + s) against a margin m with standard error
    sd / sqrt(n) (the reference, thousands of rows, adds little): n = ((z_a + z_b) sd /
    (log(1 + s) - m))^2 with z_a the two-sided critical value of one check and z_b = z(power).
    """
    alpha = rules.false_alarm_rate / CHECKS
    gap = math.log1p(rules.smallest_shift) - rules.bias_margin
    needed = (
        (upper_quantile(alpha / 2) + upper_quantile(1 - rules.power)) * reference_sd / gap
    ) ** 2
    return max(rules.min_labels_floor, math.ceil(needed))


def bias_check(window: np.ndarray, reference: np.ndarray, rules: PerformanceConfig) -> Check:
    z = upper_quantile(rules.false_alarm_rate / CHECKS / 2)
    difference = float(window.mean() - reference.mean())
    se = math.sqrt(window.var(ddof=1) / len(window) + reference.var(ddof=1) / len(reference))
    low, high = difference - z * se, difference + z * se
    margin = rules.bias_margin
    breached = low > margin or high < -margin
    direction = "above" if difference > 0 else "below"
    return Check(
        name="bias",
        value=difference,
        low=low,
        high=high,
        reference=float(reference.mean()),
        limit=margin,
        breached=breached,
        text=(
            f"prices predicted {abs(math.expm1(difference)):.1%} {direction} the reference's "
            f"bias (log error {difference:+.3f}, interval {low:+.3f}..{high:+.3f}, "
            f"margin +-{margin:.3f})"
        ),
    )


def rms_check(window: np.ndarray, reference: np.ndarray, rules: PerformanceConfig) -> Check:
    z = upper_quantile(rules.false_alarm_rate / CHECKS)
    square_w, square_r = window**2, reference**2
    # A floor keeps the log finite when every label equals its prediction (replayed traffic).
    mean_w, mean_r = max(float(square_w.mean()), 1e-12), max(float(square_r.mean()), 1e-12)
    log_ratio = math.log(mean_w / mean_r)
    se = math.sqrt(
        square_w.var(ddof=1) / (len(window) * mean_w**2)
        + square_r.var(ddof=1) / (len(reference) * mean_r**2)
    )
    ratio = math.exp(log_ratio / 2)
    low, high = math.exp((log_ratio - z * se) / 2), math.exp((log_ratio + z * se) / 2)
    limit = 1.0 + rules.rms_margin
    return Check(
        name="rms_log_error_ratio",
        value=ratio,
        low=low,
        high=high,
        reference=math.sqrt(mean_r),
        limit=limit,
        breached=low > limit,
        text=(
            f"RMS log error {math.sqrt(mean_w):.3f} is {ratio:.2f}x the reference's "
            f"{math.sqrt(mean_r):.3f} (interval {low:.2f}..{high:.2f}x, limit {limit:.2f}x)"
        ),
    )


def coverage_check(covered: np.ndarray, level: float, rules: PerformanceConfig) -> Check:
    z = upper_quantile(rules.false_alarm_rate / CHECKS)
    n, share = len(covered), float(covered.mean())
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    low, high = centre - half, centre + half
    floor = rules.coverage_floor
    return Check(
        name="coverage",
        value=share,
        low=low,
        high=high,
        reference=level,
        limit=floor,
        breached=high < floor,
        text=(
            f"interval coverage {share:.1%} (interval {low:.1%}..{high:.1%}) against floor "
            f"{floor:.0%} for {level:.0%} intervals"
        ),
    )


def judge_performance(
    errors: ErrorSample | None,
    reference: ErrorSample | None,
    rules: PerformanceConfig,
    coverage_level: float,
) -> tuple[PerformanceSummary, list[str]]:
    """The performance part of the verdict and the reasons it gives."""
    labelled = len(errors) if errors is not None else 0
    summary = {"labelled": labelled, "coverage_level": coverage_level}
    if errors is None or reference is None or len(reference) < rules.min_labels_floor:
        why = "no reference errors to compare with" if errors is not None else "nothing analysed"
        return PerformanceSummary(status=Status.INSUFFICIENT_DATA, **summary), [
            f"performance not judged: {why}"
        ]
    needed = min_labels(rules, float(reference.log_error.std(ddof=1)))
    figures = {
        **summary,
        "min_labels": needed,
        "reference_rmse": float(np.sqrt(np.mean(reference.dollar_error**2))),
        "reference_coverage": float(reference.covered.mean())
        if reference.covered is not None
        else None,
    }
    if labelled < rules.min_labels_floor:
        return PerformanceSummary(status=Status.INSUFFICIENT_DATA, **figures), [
            f"performance not judged: {labelled} labelled rows, at least "
            f"{rules.min_labels_floor} needed to judge and {needed} to call it healthy"
        ]
    checks = [
        bias_check(errors.log_error, reference.log_error, rules),
        rms_check(errors.log_error, reference.log_error, rules),
    ]
    if errors.covered is not None:
        checks.append(coverage_check(errors.covered, coverage_level, rules))
    breached = [c.text for c in checks if c.breached]
    if breached:
        status, reasons = Status.DEGRADED, breached
    elif labelled < needed:
        status = Status.INSUFFICIENT_DATA
        reasons = [
            f"performance not degraded on {labelled} labelled rows, but calling it healthy "
            f"needs {needed} (to catch prices {rules.smallest_shift:.0%} off with "
            f"{rules.power:.0%} power)"
        ]
    else:
        status = Status.HEALTHY
        reasons = [f"performance within margins on {labelled} labelled rows"]
    dollars = errors.dollar_error
    return PerformanceSummary(
        status=status,
        **figures,
        rmse=float(np.sqrt(np.mean(dollars**2))),
        mae=float(np.mean(np.abs(dollars))),
        mape_percent=float(np.mean(np.abs(dollars) / errors.actual) * 100.0),
        bias=float(np.mean(dollars)),
        coverage=float(errors.covered.mean()) if errors.covered is not None else None,
        checks=checks,
    ), reasons
