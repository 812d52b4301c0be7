"""Which model a worker serves, and moving to a new champion without a restart.

The worker holds one :class:`~housing.registry.LoadedModel` reference. A background thread asks
the registry every ``service.model_poll_interval_s`` who the champion is (one cheap query); when
the version changed (promote, rollback, retrain) it loads and warms the new model off the
request path and then replaces the reference in one assignment. A batch reads the reference
once, so every batch -- and every answer -- is priced by exactly one version and says which;
requests in flight finish on the model they started with. A failed load keeps the current
model and is retried at the next poll.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from housing.config import Settings
from housing.registry import ChampionRef, LoadedModel, get_champion, load_model
from housing.store.database import create_log_engine

logger = logging.getLogger(__name__)


class NoChampion(RuntimeError):  # noqa: N818 - an outcome (HTTP 503), not a bug
    """No model has been promoted yet (run ``housing train``)."""


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
            model = load_model(self._settings, ref)
            self._warm_up(model)
            self._current = model
        logger.info(
            "serving champion version %s (%s)",
            model.version,
            model.bento_tag,
        )
        self._on_swap(model)
        return True

    def _champion_to_serve(self) -> ChampionRef | None:
        """The registry's champion; before anything is loaded, the Bento's own model.

        A container started without the production MLflow (or before the first promotion, or
        while MLflow is down) serves the model it was built with; as soon as the registry names
        a champion, the next poll moves to it.
        """
        try:
            ref = get_champion(self._settings)
        except Exception:  # unreachable registry, or a store that cannot open (e.g. workers
            # racing to create an embedded MLflow database): serve the packaged model meanwhile
            if self._current is not None or (packaged := packaged_champion()) is None:
                raise
            logger.warning("model registry unavailable; serving the Bento's packaged model")
            return packaged
        if ref is None and self._current is None:
            return packaged_champion()
        return ref


def packaged_champion() -> ChampionRef | None:
    """The model packaged in the Bento this process serves, or None outside a Bento.

    ``housing build`` labels the Bento with the model's tag, version and run (delivery/build.py);
    BentoML serves a Bento from ``$BENTO_PATH`` (containers) or with ``<bento>/src`` as the
    working directory, and resolves the tag in the Bento's own model store.
    """
    import yaml

    candidates = [Path(os.environ["BENTO_PATH"])] if os.environ.get("BENTO_PATH") else []
    candidates.append(Path.cwd().parent)
    for directory in candidates:
        try:
            info = yaml.safe_load((directory / "bento.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        labels = info.get("labels") or {}
        if labels.get("bento_model") and str(labels.get("model_version", "")).isdigit():
            return ChampionRef(
                version=int(labels["model_version"]),
                run_id=str(labels.get("mlflow_run_id", "")),
                bento_tag=str(labels["bento_model"]),
            )
    return None


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
    settings: Settings, publish: Callable[[Any], None]
) -> Callable[[], None]:
    """A periodic check that publishes the latest monitor figures (when monitoring exists)."""
    try:
        from monitoring.status import latest_status
    except ImportError:  # monitoring not installed in this build
        return lambda: None
    engine = create_log_engine(settings.storage)

    def check() -> None:
        status = latest_status(settings, engine)
        if status is not None:
            publish(status)

    return check
