"""Shadow scoring: a second registered version prices every batch after the champion, off the
response path, so it can be judged on production labels before it is promoted.

The shadow is chosen like the champion and swapped the same way (:mod:`serving.champion`'s
watcher polls the registry): the version pinned by ``service.shadow.version``, else the one
behind the ``shadow`` alias (``housing shadow start VERSION`` / ``housing shadow stop``). The
prediction path hands each logged batch (its prediction ids and records) to :meth:`submit`,
which only appends to a bounded queue and returns: answers never wait for the shadow. One
thread per worker scores the queue and writes ``shadow_predictions`` rows against the
champion's prediction ids. When ``service.shadow.max_pending_batches`` are already waiting,
the batch is skipped and counted (``housing_shadow_skipped_rows_total{reason="behind"}``):
the shadow yields to the champion, never the reverse.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from housing.bundle import LoadedModel, ModelRef, load_model
from housing.config import Settings
from housing.records import validated_records_frame
from housing.registry import get_shadow, get_version
from housing.store.tables import shadow_predictions
from serving.metrics import ServingMetrics

logger = logging.getLogger(__name__)

# Prices are logged to the cent, like the champion's.
_PRICE_DECIMALS = 2
_Batch = tuple[LoadedModel, list[str], list[dict[str, Any]]]


class ShadowScorer:
    """The shadow model of one worker and the thread that scores batches with it."""

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
        self._queue: queue.Queue[_Batch | None] = queue.Queue(
            maxsize=settings.service.shadow.max_pending_batches
        )
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
            model = load_model(self._settings, ref)
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
        while (item := self._queue.get()) is not None:
            model, ids, records = item
            try:
                self._score(model, ids, records)
            except Exception:  # a failing shadow must never disturb serving
                logger.exception("shadow version %s failed on a batch", model.version)
                self._metrics.shadow_skipped.labels(reason="failed").inc(len(ids))

    def _score(self, model: LoadedModel, ids: list[str], records: list[dict[str, Any]]) -> None:
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
        """Score what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()
