"""Process-level setup that libraries read from the environment, done once at entry points.

BentoML reads ``BENTOML_HOME`` when it is first imported and MLflow keeps a process-wide
tracking URI, so entry points (the CLI, the service, tests) call :func:`prepare_process` before
they import either. Thread caps are set here for the same reason: OpenMP/BLAS read them at load.
"""

from __future__ import annotations

import os
from pathlib import Path

from housing.config import Settings

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def prepare_process(settings: Settings, *, numeric_threads: int | None = None) -> None:
    """Point BentoML and MLflow at the configured stores and cap numeric threads."""
    os.environ["BENTOML_HOME"] = str(settings.bentoml.home)
    settings.bentoml.home.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow.tracking_uri
    if settings.mlflow.tracking_uri.startswith("sqlite:///"):
        db_path = settings.mlflow.tracking_uri.split(":///", 1)[1]
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if numeric_threads is not None:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(numeric_threads)
