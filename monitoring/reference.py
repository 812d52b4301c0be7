"""What a window is compared with: the training reference and holdout figures of the model
version that made the predictions (stored with that version by training), never another one's.
"""

from __future__ import annotations

import pandas as pd

from housing.config import Settings
from monitoring.verdict import Baseline
from monitoring.window import ACTUAL, PREDICTION


class ReferenceUnavailableError(LookupError):
    """The model version has no readable reference (unknown version, artifact missing)."""


def reference_of(settings: Settings, version: str) -> pd.DataFrame:
    """Features, ``actual_price`` and ``prediction`` of the version's training reference."""
    from housing import registry

    try:
        frame = registry.load_reference(settings, version)
    except registry.RegistryError as exc:
        raise ReferenceUnavailableError(str(exc)) from exc
    missing = [c for c in [*settings.feature_names, PREDICTION] if c not in frame.columns]
    if missing:
        raise ReferenceUnavailableError(
            f"reference of model version {version} lacks columns {', '.join(missing)}"
        )
    return frame.rename(columns={settings.dataset.target: ACTUAL})


def _holdout_metric(metrics: dict[str, float], name: str) -> float | None:
    for key in (f"holdout_{name}", f"holdout.{name}", f"holdout/{name}"):
        if key in metrics:
            return float(metrics[key])
    return None


def baseline_of(settings: Settings, version: str) -> Baseline:
    """Holdout RMSE/MAE logged by the version's training run (None when not recorded)."""
    from housing import registry

    try:
        ref = registry.get_version(settings, version)
        metrics = registry.client(settings).get_run(ref.run_id).data.metrics if ref.run_id else {}
    except Exception:  # a missing baseline only disables the RMSE rule
        return Baseline()
    return Baseline(rmse=_holdout_metric(metrics, "rmse"), mae=_holdout_metric(metrics, "mae"))
