"""Which model a worker serves, and moving to a new champion without a restart.

The worker holds one :class:`~housing.bundle.LoadedModel` reference. A background thread asks
the registry every ``service.model_poll_interval_s`` who the champion is (one cheap query); when
the version changed (promote, rollback, retrain) it loads and warms the new model off the
request path and then replaces the reference in one assignment. A batch reads the reference
once, so every batch -- and every answer -- is priced by exactly one version and says which;
requests in flight finish on the model they started with. A failed load keeps the current
model and is retried at the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine

from housing.bundle import LoadedModel, ModelRef, load_model, packaged_model
from housing.config import Settings
from housing.registry import get_champion
from housing.store.monitor_status import latest_status
from serving.errors import NoChampion

logger = logging.getLogger(__name__)


def load_served_model(settings: Settings, ref: ModelRef) -> LoadedModel:
    """A registered model as the service scores it (champion and shadow alike): batches up to
    ``service.small_batch_rows`` go through one native call for all trees (``housing.trees``).

    Only the service merges requests into small batches; training, promotion and batch scoring
    price thousands of rows per call and keep scikit-learn without paying treelite's import."""
    model = load_model(settings, ref)
    pricing = model.pricing.with_small_batch_trees(
        settings.service.small_batch_rows, settings.service.numeric_threads
    )
    return replace(model, pricing=pricing)


class ChampionHolder:
    """The model this worker serves; swapped atomically by :meth:`refresh`."""

    def __init__(
        self,
        settings: Settings,
        *,
        warm_up: Callable[[LoadedModel], None] | None = None,
        on_swap: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self._settings = settings
        self._warm_up = warm_up or (lambda model: None)
        self._on_swap = on_swap or (lambda model: None)
        self._current: LoadedModel | None = None
        self._refresh_lock = threading.Lock()

    @property
    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            raise NoChampion("no champion model is loaded yet; train one with `housing train`")
        return model

    @property
    def loaded(self) -> LoadedModel | None:
        """The champion served now, or None before the first load (never raises)."""
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def refresh(self) -> bool:
        """Load the registry's champion if it is not the one served; True when it swapped."""
        with self._refresh_lock:
            ref = self._champion_to_serve()
            if ref is None:
                return False
            current = self._current
            if current is not None and current.version == ref.version:
                return False
            model = load_served_model(self._settings, ref)
            self._warm_up(model)
            self._current = model
        logger.info(
            "serving champion version %s (%s)",
            model.version,
            model.bento_tag,
        )
        self._on_swap(model)
        return True

    def _champion_to_serve(self) -> ModelRef | None:
        """The registry's champion; before anything is loaded, the Bento's own model.

        A container started without the production MLflow (or before the first promotion, or
        while MLflow is down) serves the model it was built with; as soon as the registry names
        a champion, the next poll moves to it.
        """
        try:
            ref = get_champion(self._settings)
        except Exception:  # unreachable registry, or a store that cannot open (e.g. workers
            # racing to create an embedded MLflow database): serve the packaged model meanwhile
            if self._current is not None or (packaged := packaged_model()) is None:
                raise
            logger.warning("model registry unavailable; serving the Bento's packaged model")
            return packaged
        if ref is None and self._current is None:
            return packaged_model()
        return ref


class ChampionWatcher:
    """Polls the registry (and any other periodic check) in a daemon thread until stopped."""

    def __init__(
        self,
        holder: ChampionHolder,
        interval_s: float,
        *,
        extra_checks: tuple[Callable[[], None], ...] = (),
    ) -> None:
        self._holder = holder
        self._interval_s = interval_s
        self._extra_checks = extra_checks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def check_now(self) -> None:
        try:
            self._holder.refresh()
        except Exception:  # keep serving the current model; retry at the next poll
            logger.exception("champion check failed; keeping the current model")
        for check in self._extra_checks:
            try:
                check()
            except Exception:
                logger.exception("periodic check %s failed", getattr(check, "__name__", check))

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.check_now()


def monitoring_status_check(
    settings: Settings, engine: Engine, publish: Callable[[Any], None]
) -> Callable[[], None]:
    """A periodic check that publishes the latest monitor figures (none before a first run)."""

    def check() -> None:
        status = latest_status(settings, engine)
        if status is not None:
            publish(status)

    return check
