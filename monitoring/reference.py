"""What a window is compared with: the training reference and holdout figures of the model
version that made the predictions (stored with that version by training), never another one's.
"""

from __future__ import annotations

import pandas as pd

from housing.config import Settings
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
