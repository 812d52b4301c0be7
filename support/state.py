"""All state of a run (registry, model store, log, reports) in one directory, through the
``HOUSING_*`` variables a user would set, so a test or benchmark never touches ``var/``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Inherited values of these would point a child process at someone else's stores.
_INHERITED_STATE = {"BENTOML_HOME", "MLFLOW_TRACKING_URI"}


def env_value(value: Any) -> str:
    """A configuration value as an environment variable spells it (None: empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def housing_environ(values: Mapping[str, Any]) -> dict[str, str]:
    """``{"storage__url": ...}`` -> ``{"HOUSING_STORAGE__URL": ...}``."""
    return {f"HOUSING_{key.upper()}": env_value(value) for key, value in values.items()}


def state_overrides(state_dir: Path, bentoml_home: Path | None = None) -> dict[str, Any]:
    """Every state path of the configuration, inside ``state_dir``."""
    return {
        "mlflow__tracking_uri": f"sqlite:///{state_dir / 'mlflow.db'}",
        "mlflow__artifact_location": state_dir / "mlflow-artifacts",
        "bentoml__home": bentoml_home or state_dir / "bentoml",
        "storage__url": f"sqlite:///{state_dir / 'predictions.db'}",
        "storage__spool_dir": state_dir / "spool",
        "monitoring__reports_dir": state_dir / "reports",
        "monitoring__workspace_dir": state_dir / "evidently",
        "service__feedback__token_file": state_dir / "feedback-token",
    }


def state_environ(state_dir: Path, bentoml_home: Path | None = None) -> dict[str, str]:
    """The ``HOUSING_*`` variables of :func:`state_overrides`."""
    return housing_environ(state_overrides(state_dir, bentoml_home))


def clean_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without inherited ``HOUSING_*`` or store paths."""
    environ = os.environ if environ is None else environ
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith("HOUSING_") and key not in _INHERITED_STATE
    }
