"""Turning measurements into one verdict and an exit code that automation can act on.

Two checks are judged separately -- drift (needs ``drift.min_rows`` rows) and performance (see
:mod:`monitoring.performance`) -- so a window with too few labels still gets its drift checked.
Drift has two kinds of reasons: the share of drifted features, and faults of a single column
(:mod:`monitoring.columns`), which a share over all features cannot see. Records refused by
validation (they never reach the log) are judged on their own: a refused share above
``refusals.max_share`` is a data-quality reason with status ``drift`` even when the logged rows
are too few to judge. The overall verdict is the most serious outcome: ``degraded`` over
``drift``; ``healthy`` only when both checks ran and passed; otherwise ``insufficient_data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from housing.config import RefusalsConfig, Settings
from housing.run_summary import (
    Check,
    DriftSummary,
    PerformanceSummary,
    RefusalSummary,
    Status,
)
from housing.store.refusals import WITH_REQUEST
from monitoring.analysis import Analysis
from monitoring.drift import judge_drift
from monitoring.performance import judge_performance

__all__ = ["Status", "Verdict", "decide"]


@dataclass
class Verdict:
    status: Status
    drift: DriftSummary
    performance: PerformanceSummary
    reasons: list[str] = field(default_factory=list)
    refusals: RefusalSummary | None = None

    @property
    def drift_check(self) -> Status:
        return self.drift.status

    @property
    def performance_check(self) -> Status:
        return self.performance.status

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


# Reasons of refusal named in the verdict's text, most records first.
_NAMED_REFUSAL_REASONS = 3


def refusal_check(refusals: RefusalSummary, rules: RefusalsConfig) -> Check | None:
    """Refused records / records sent above ``max_share``; None below ``min_records`` sent."""
    sent = refusals.refused + refusals.logged
    if sent < rules.min_records or refusals.share is None:
        return None
    named = [r for r in refusals.reasons if r.kind != WITH_REQUEST][:_NAMED_REFUSAL_REASONS]
    causes = ", ".join(f"{r.field} ({r.kind}) in {r.records} records" for r in named)
    return Check(
        name="refused_share",
        value=refusals.share,
        limit=rules.max_share,
        breached=refusals.share > rules.max_share,
        text=(
            f"{refusals.share:.1%} of the records sent were refused by validation "
            f"({refusals.refused} of {sent}; limit {rules.max_share:.0%})"
            + (f"; invalid records: {causes}" if causes else "")
        ),
    )


def decide(
    analysis: Analysis | None,
    rows: int,
    settings: Settings,
    refusals: RefusalSummary | None = None,
) -> Verdict:
    drift, drift_reasons = judge_drift(analysis.drift if analysis else None, rows, settings)
    refused_reasons: list[str] = []
    if refusals is not None:
        check = refusal_check(refusals, settings.monitoring.refusals)
        refusals = refusals.model_copy(update={"check": check})
        if check is not None and check.breached:
            refused_reasons.append(check.text)
    performance, perf_reasons = judge_performance(
        analysis.errors if analysis else None,
        analysis.reference_errors if analysis else None,
        settings.monitoring.performance,
        settings.intervals.coverage,
    )
    if performance.status is Status.DEGRADED:
        status = Status.DEGRADED
    elif drift.status is Status.DRIFT or refused_reasons:
        status = Status.DRIFT
    elif drift.status is Status.HEALTHY and performance.status is Status.HEALTHY:
        status = Status.HEALTHY
    else:
        status = Status.INSUFFICIENT_DATA
    reasons = [*refused_reasons, *drift_reasons, *perf_reasons]
    return Verdict(status, drift, performance, reasons, refusals)
