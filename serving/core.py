"""Everything a service worker runs, independent of the protocol that calls it.

``ServingCore`` wires the champion holder, the adaptive batcher, the prediction log and the
metrics together and owns their lifecycle (``start`` when the worker starts, ``stop`` on
SIGTERM, which drains the prediction log). It implements
:class:`serving.grpc.backend.PredictionBackend` (by shape; the core imports nothing of
``serving.grpc``), so the gRPC server in the same worker calls exactly what HTTP calls:

* ``await core.predict(records, protocol="grpc")``: raw dicts in, one answer per record;
  raises the outcomes of :mod:`serving.errors` (``InvalidRequest`` with record index, field
  and reason; ``NoChampion``, ``Overloaded``).
* ``core.feedback_authorized(authorization_header)`` and
  ``await core.submit_feedback(items, protocol="grpc")``.
* ``await core.model_info()``: the ``GET /model`` document; ``core.model_ready()``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from housing.bundle import LoadedModel
from housing.config import FeatureSpec, Settings
from housing.model_card import with_history
from housing.records import records_to_frame
from housing.store.database import LogDatabase
from housing.store.prediction_log import PredictionLogWriter
from housing.store.refusals import RefusalLog
from serving.auth import feedback_token
from serving.champion import ChampionHolder, ChampionWatcher, monitoring_status_check
from serving.feedback import FeedbackDesk
from serving.metrics import ServingMetrics, serving_metrics
from serving.prediction import PredictionPath
from serving.schema import example_record
from serving.shadow import ShadowScorer

logger = logging.getLogger(__name__)


class ServingCore:
    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        token = feedback_token(settings, environ)  # refuse to start without one
        self.settings = settings
        self.metrics: ServingMetrics = serving_metrics(settings)
        self.database = LogDatabase(settings.storage)
        self.log = PredictionLogWriter(
            settings.storage, database=self.database, observer=self.metrics
        )
        self.holder = ChampionHolder(settings, warm_up=self._warm_up, on_swap=self._swapped)
        self.shadow = ShadowScorer(
            settings, self.database.engine, self.metrics, warm_up=self._warm_up
        )
        # Requests refused by validation, for the monitor (housing/store/refusals.py).
        self.refusals = RefusalLog(settings.storage, self.database)
        self.prediction = PredictionPath(
            settings,
            self.holder,
            self.log,
            self.metrics,
            shadow=self.shadow,
            refusals=self.refusals,
        )
        # One engine (one pool) for the one database. Feedback is acknowledged only once
        # stored: its transactions fsync every commit (housing.store.database.durable).
        self.feedback = FeedbackDesk(settings, self.database, self.log, self.metrics, token)
        self._verdicts: set[str] = set()
        self._first_model_loaded = False
        self.watcher = ChampionWatcher(
            self.holder,
            settings.service.model_poll_interval_s,
            extra_checks=(
                self.shadow.refresh,
                monitoring_status_check(settings, self.database.engine, self._publish_status),
            ),
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ServingCore:
        """Open the log (replaying what dead workers left), load the champion, start polling."""
        try:
            self.database.ready()
        except SQLAlchemyError as exc:  # predictions stay journaled until it answers
            logger.warning("prediction log database unavailable at start: %s", exc)
        self.log.start()
        self.refusals.start()
        self.watcher.check_now()
        # Everything loaded so far (libraries, the model) lives as long as the worker: keep it
        # out of the cyclic garbage collector, whose full passes over a million long-lived
        # objects otherwise stall the event loop for hundreds of milliseconds under load.
        gc.freeze()
        self.watcher.start()
        return self

    def stop(self) -> None:
        """Stop polling, finish batches, write every buffered prediction (spool if needed)."""
        self.watcher.stop()
        self.prediction.close()
        self.shadow.close()
        self.log.close()
        self.refusals.close()
        self.database.dispose()

    def _warm_up(self, model: LoadedModel) -> None:
        model.pricing.predict(records_to_frame([example_record(self.settings)], self.settings))

    def _swapped(self, model: LoadedModel) -> None:
        if self._first_model_loaded:  # the first load of a worker is not a swap
            self.metrics.model_swaps.inc()
        self._first_model_loaded = True
        self.metrics.model_version.set(model.version)

    def _publish_status(self, status: Any) -> None:
        """Gauges from the latest ``housing.store.monitor_status.MonitorStatus``."""
        metrics = self.metrics
        for name, gauge in (
            ("drift_share", metrics.monitor_drift_share),
            ("rmse", metrics.monitor_live_rmse),
            ("labelled", metrics.monitor_labelled),
            ("finished_at_epoch", metrics.monitor_last_run),
        ):
            value = getattr(status, name)
            if value is not None:
                gauge.set(float(value))
        verdict = str(status.verdict)
        self._verdicts.add(verdict)
        for known in self._verdicts:
            metrics.monitor_verdict.labels(verdict=known).set(1.0 if known == verdict else 0.0)

    # ------------------------------------------------------------------ PredictionBackend

    @property
    def features(self) -> Mapping[str, FeatureSpec]:
        return self.settings.dataset.features

    def model_ready(self) -> bool:
        """Ready: a champion is loaded and the prediction log can take rows (policy refuse)."""
        return self.holder.ready and self.log.accepting

    async def predict(
        self, records: list[dict[str, Any]], protocol: str
    ) -> list[Mapping[str, Any]]:
        return await self.prediction.predict(records, protocol)

    def feedback_authorized(self, authorization: str | None) -> bool:
        return self.feedback.authorized(authorization)

    async def submit_feedback(
        self, items: Sequence[Mapping[str, Any]] | list[dict[str, Any]], protocol: str
    ) -> list[Mapping[str, Any]]:
        return await self.feedback.submit(self.feedback.validate(items), protocol)

    def _shadow_info(self) -> dict[str, Any] | None:
        shadow = self.shadow.current
        if shadow is None:
            return None
        return {
            "model_version": str(shadow.version),
            "bento_tag": shadow.bento_tag,
            "mlflow_run_id": shadow.run_id,
            "holdout_metrics": shadow.info.get("holdout", {}),
        }

    async def model_card(self) -> dict[str, Any]:
        """The served version's model card with its current promotion and monitoring history
        (``GET /model/card``); the registry and log queries run off the event loop."""
        model = self.holder.current
        return await asyncio.to_thread(
            with_history, self.settings, model.info, self.database.engine
        )

    async def model_info(self) -> Mapping[str, Any]:
        model = self.holder.current
        card = model.info
        return {
            "model_version": str(model.version),
            "bento_tag": model.bento_tag,
            "mlflow_run_id": model.run_id,
            "registered_model": self.settings.mlflow.registered_model,
            "trained_at": card.get("trained_at"),
            "estimator": card.get("estimator"),
            "holdout_metrics": card.get("holdout", {}),
            "cv_metrics": card.get("cv", {}),
            "interval_coverage": model.pricing.coverage,
            "shadow": self._shadow_info(),
            "dataset": card.get("dataset", {}),
            # The schema the model was trained with (the card's), else the configured one.
            "features": card.get("features")
            or {
                name: spec.model_dump(mode="json", exclude_none=True)
                for name, spec in self.settings.dataset.features.items()
            },
        }
