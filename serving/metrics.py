"""The service's own Prometheus metrics, next to BentoML's on ``/metrics``.

They are created inside the worker (never at import time): ``prometheus_client`` picks its
multi-process storage when first imported, and BentoML sets ``PROMETHEUS_MULTIPROC_DIR`` only
when the worker starts. Counters and histograms then add up across workers; gauges say how they
combine (``livesum`` for a backlog, ``livemax`` for figures every worker reports alike).
Metric objects are created once per process because Prometheus refuses duplicate names.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from housing.config import Settings

PREFIX = "housing"
# Buckets of the predicted-price histogram: geometric between the plausible target bounds.
_PRICE_BUCKETS = 16


def _geometric(low: float, high: float, count: int) -> list[float]:
    ratio = (high / low) ** (1 / (count - 1))
    return [round(low * ratio**step, 2) for step in range(count)]


def _powers_of_two(limit: int) -> list[float]:
    return [float(2**power) for power in range(math.ceil(math.log2(max(limit, 2))) + 1)]


@dataclass(frozen=True)
class ServingMetrics:
    predictions: Any
    predicted_price: Any
    batch_size: Any
    requests_refused: Any
    feedback: Any
    log_batches: Any
    log_rows: Any
    log_errors: Any
    log_journal_rows: Any
    log_replay_lag: Any
    log_rows_dropped: Any
    model_version: Any
    model_swaps: Any
    shadow_rows: Any
    shadow_skipped: Any
    monitor_drift_share: Any
    monitor_live_rmse: Any
    monitor_labelled: Any
    monitor_verdict: Any
    monitor_last_run: Any

    def observe_prices(self, prices: Sequence[float]) -> None:
        """Add a request's prices to the histogram with one update per touched bucket.

        ``Histogram.observe`` costs a lock and a PID check per value in multi-process mode
        (17% of a worker's event-loop time at 100-record requests, profiled), so the values are
        bucketed here and each bucket is incremented once.
        """
        histogram = self.predicted_price
        bounds = getattr(histogram, "_upper_bounds", None)
        buckets = getattr(histogram, "_buckets", None)
        total = getattr(histogram, "_sum", None)
        if bounds is None or buckets is None or total is None:  # another client version
            for price in prices:
                histogram.observe(price)
            return
        counts: dict[int, int] = {}
        for price in prices:
            index = bisect.bisect_left(bounds, price)
            counts[index] = counts.get(index, 0) + 1
        for index, count in counts.items():
            buckets[index].inc(count)
        total.inc(float(sum(prices)))

    # ------------------------------------------------------------------ log observer

    def batch_written(self, rows: int, seconds: float) -> None:
        self.log_batches.inc()
        self.log_rows.inc(rows)

    def write_failed(self, target: str, kind: str) -> None:
        self.log_errors.labels(target=target, kind=kind).inc()

    def backlog_changed(self, rows: int, lag_s: float) -> None:
        self.log_journal_rows.set(rows)
        self.log_replay_lag.set(lag_s)

    def rows_dropped(self, rows: int) -> None:
        self.log_rows_dropped.inc(rows)


@functools.cache
def _create(price_low: float, price_high: float, max_batch_size: int) -> ServingMetrics:
    from prometheus_client import Counter, Gauge, Histogram

    metrics = ServingMetrics(
        predictions=Counter(
            f"{PREFIX}_predictions",
            "Predictions answered (records), by model version and protocol",
            ["model_version", "protocol"],
        ),
        predicted_price=Histogram(
            f"{PREFIX}_predicted_price",
            "Predicted prices (target unit)",
            buckets=_geometric(price_low, price_high, _PRICE_BUCKETS),
        ),
        batch_size=Histogram(
            f"{PREFIX}_batch_size",
            "Rows per model call after adaptive batching (HTTP and gRPC together)",
            buckets=_powers_of_two(max_batch_size),
        ),
        requests_refused=Counter(
            f"{PREFIX}_requests_refused",
            "Prediction requests refused, by reason and protocol",
            ["reason", "protocol"],
        ),
        feedback=Counter(
            f"{PREFIX}_feedback_items", "Feedback items by outcome", ["outcome", "protocol"]
        ),
        log_batches=Counter(f"{PREFIX}_log_write_batches", "Prediction-log batches written"),
        log_rows=Counter(f"{PREFIX}_log_rows_written", "Prediction-log rows written"),
        log_errors=Counter(
            f"{PREFIX}_log_write_errors",
            "Failed prediction-log writes by target (store = the database, journal = local "
            "disk) and kind (disk_full, locked, unreachable, not_writable, schema, io, other)",
            ["target", "kind"],
        ),
        log_journal_rows=Gauge(
            f"{PREFIX}_log_journal_rows",
            "Journal depth: answered predictions not yet in the database",
            multiprocess_mode="livesum",
        ),
        log_replay_lag=Gauge(
            f"{PREFIX}_log_replay_lag_seconds",
            "Age of the oldest answered prediction not yet in the database",
            multiprocess_mode="livemax",
        ),
        log_rows_dropped=Counter(
            f"{PREFIX}_log_rows_dropped",
            "Answered predictions that nothing could store (policy 'serve'; 0 under 'refuse')",
        ),
        model_version=Gauge(
            f"{PREFIX}_model_version",
            "Champion version each worker serves",
            multiprocess_mode="liveall",
        ),
        model_swaps=Counter(
            f"{PREFIX}_model_swaps", "Hot swaps to a new champion (not the first load)"
        ),
        shadow_rows=Counter(
            f"{PREFIX}_shadow_rows",
            "Predictions also scored by the shadow, by shadow version",
            ["shadow_version"],
        ),
        shadow_skipped=Counter(
            f"{PREFIX}_shadow_skipped_rows",
            "Predictions the shadow skipped (it fell behind, or failed), by reason",
            ["reason"],
        ),
        monitor_drift_share=Gauge(
            f"{PREFIX}_monitor_drift_share",
            "Share of drifted features in the latest monitor run",
            multiprocess_mode="livemostrecent",
        ),
        monitor_live_rmse=Gauge(
            f"{PREFIX}_monitor_live_rmse",
            "RMSE on labelled production rows in the latest monitor run",
            multiprocess_mode="livemostrecent",
        ),
        monitor_labelled=Gauge(
            f"{PREFIX}_monitor_labelled_rows",
            "Labelled rows in the latest monitor run",
            multiprocess_mode="livemostrecent",
        ),
        monitor_verdict=Gauge(
            f"{PREFIX}_monitor_verdict",
            "1 for the verdict of the latest monitor run, 0 for the others",
            ["verdict"],
            multiprocess_mode="livemax",
        ),
        monitor_last_run=Gauge(
            f"{PREFIX}_monitor_last_run_timestamp_seconds",
            "When the latest monitor run finished (Unix time)",
            multiprocess_mode="livemostrecent",
        ),
    )
    # Before the first monitor run there is no figure: NaN, not 0 (a drift share or RMSE of 0
    # reads as a perfect run). The first published run replaces it: "livemostrecent" reports
    # the latest value written by any live worker, so a worker that has not polled yet cannot
    # hide the figure another one already published.
    for gauge in (
        metrics.monitor_drift_share,
        metrics.monitor_live_rmse,
        metrics.monitor_labelled,
        metrics.monitor_last_run,
    ):
        gauge.set(math.nan)
    return metrics


def serving_metrics(settings: Settings) -> ServingMetrics:
    """The process's metric objects (created on first call, inside the worker)."""
    return _create(
        settings.dataset.target_min, settings.dataset.target_max, settings.service.max_batch_size
    )
