"""Shadow scoring: a second registered version prices every batch after the champion, off the
response path, so it can be judged on production labels before it is promoted.

The shadow is chosen like the champion and swapped the same way (:mod:`serving.champion`'s
watcher polls the registry): the version pinned by ``service.shadow.version``, else the one
behind the ``shadow`` alias (``housing shadow start VERSION`` / ``housing shadow stop``).

The prediction path hands each logged batch (its prediction ids and records) to :meth:`submit`,
which only appends to a bounded queue and returns: answers never wait for the shadow. One thread
per worker gathers the queued batches and prices them together -- one model call and one
``shadow_predictions`` insert per ``service.shadow.batch_rows`` rows, or per
``service.shadow.max_wait_ms`` when traffic is light -- against the champion's prediction ids.
Why gather: a model batch at 64 single-record clients holds about 15 rows, and pricing 15 rows
costs nearly as much as pricing 500 (the DataFrame, the feature transform, the interval model
and the insert are paid per call, the tree traversal per row). Scoring each model batch again
cost half the service's throughput on 2 cores; gathered, the shadow costs a few percent
(docs/benchmarks.md, "Shadow scoring").

When ``service.shadow.max_pending_batches`` batches already wait in the queue (the thread is
busy pricing and cannot keep up), the batch is skipped and counted
(``housing_shadow_skipped_rows_total{reason="behind"}``): the shadow yields to the champion,
never the reverse.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from housing.bundle import LoadedModel, ModelRef
from housing.config import Settings
from housing.records import validated_records_frame
from housing.registry import get_shadow, get_version
from housing.store.tables import shadow_predictions
from serving.champion import load_served_model
from serving.metrics import ServingMetrics

logger = logging.getLogger(__name__)

# Prices are logged to the cent, like the champion's.
_PRICE_DECIMALS = 2
_Batch = tuple[LoadedModel, list[str], list[dict[str, Any]]]


class ShadowScorer:
    """The shadow model of one worker and the thread that scores gathered batches with it."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        metrics: ServingMetrics,
        *,
        warm_up: Callable[[LoadedModel], None],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._metrics = metrics
        self._warm_up = warm_up
        self._current: LoadedModel | None = None
        self._refresh_lock = threading.Lock()
        config = settings.service.shadow
        self._batch_rows = config.batch_rows
        self._max_wait_s = config.max_wait_ms / 1000
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=config.max_pending_batches)
        self._thread = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
        self._thread.start()

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def _wanted(self) -> ModelRef | None:
        pinned = self._settings.service.shadow.version
        return get_version(self._settings, pinned) if pinned else get_shadow(self._settings)

    def refresh(self) -> bool:
        """Follow the configured/registry shadow; True when it started, changed or stopped."""
        with self._refresh_lock:
            ref = self._wanted()
            current = self._current
            if ref is None:
                self._current = None
                if current is not None:
                    logger.info("shadow version %s stopped", current.version)
                return current is not None
            if current is not None and current.version == ref.version:
                return False
            model = load_served_model(self._settings, ref)
            self._warm_up(model)
            self._current = model
        logger.info("scoring shadow version %s (%s)", model.version, model.bento_tag)
        return True

    def submit(self, ids: list[str], records: list[dict[str, Any]]) -> None:
        """Queue a scored batch for the shadow; never blocks (a full queue skips the batch)."""
        model = self._current
        if model is None:
            return
        try:
            self._queue.put_nowait((model, ids, records))
        except queue.Full:
            self._metrics.shadow_skipped.labels(reason="behind").inc(len(ids))

    def _run(self) -> None:
        """Gather queued batches until ``batch_rows`` rows or ``max_wait_ms``, then price them.

        Batches of different shadow versions (a swap while rows wait) are priced separately.
        """
        gathered: list[_Batch] = []
        rows = 0
        deadline = 0.0
        while True:
            # Block while nothing is gathered; else wait until the oldest row's deadline.
            timeout = max(deadline - time.monotonic(), 0.0) if gathered else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:  # the oldest gathered row waited max_wait_ms
                self._score_all(gathered)
                gathered, rows = [], 0
                continue
            if item is None:  # close(): price what is gathered, then stop
                if gathered:
                    self._score_all(gathered)
                return
            if gathered and item[0] is not gathered[0][0]:  # the shadow was swapped
                self._score_all(gathered)
                gathered, rows = [], 0
            if not gathered:
                deadline = time.monotonic() + self._max_wait_s
            gathered.append(item)
            rows += len(item[1])
            if rows >= self._batch_rows:
                self._score_all(gathered)
                gathered, rows = [], 0

    def _score_all(self, gathered: list[_Batch]) -> None:
        model = gathered[0][0]
        ids = [prediction_id for _, batch_ids, _ in gathered for prediction_id in batch_ids]
        records = [record for _, _, batch_records in gathered for record in batch_records]
        try:
            self.score_rows(model, ids, records)
        except Exception:  # a failing shadow must never disturb serving
            logger.exception("shadow version %s failed on %d rows", model.version, len(ids))
            self._metrics.shadow_skipped.labels(reason="failed").inc(len(ids))

    def score_rows(self, model: LoadedModel, ids: list[str], records: list[dict[str, Any]]) -> None:
        """Price ``records`` with ``model`` and log them against ``ids`` now: one model call and
        one insert, the thread's unit of work (benchmarks/shadow_cost.py times it)."""
        estimates = model.pricing.predict(validated_records_frame(records, self._settings))
        now, version = datetime.now(UTC), str(model.version)
        rows = [
            {
                "prediction_id": prediction_id,
                "created_at": now,
                "shadow_version": version,
                "price": round(float(price), _PRICE_DECIMALS),
                "price_low": round(float(low), _PRICE_DECIMALS),
                "price_high": round(float(high), _PRICE_DECIMALS),
            }
            for prediction_id, price, low, high in zip(
                ids, estimates.price, estimates.low, estimates.high, strict=True
            )
        ]
        with self._engine.begin() as connection:
            connection.execute(insert(shadow_predictions), rows)
        self._metrics.shadow_rows.labels(shadow_version=version).inc(len(rows))

    def close(self) -> None:
        """Score what is queued and gathered, then stop the thread."""
        self._queue.put(None)
        self._thread.join()
