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


def served_from_bento(service_file: Path) -> bool:
    """Whether ``service_file`` is the copy inside a built Bento (``<bento>/src/service.py``)."""
    return (service_file.resolve().parent.parent / "bento.yaml").is_file()


def prepare_process(
    settings: Settings, *, numeric_threads: int | None = None, keep_bentoml_home: bool = False
) -> None:
    """Point BentoML and MLflow at the configured stores and cap numeric threads.

    ``keep_bentoml_home``: a Bento being served (``bentoml serve TAG``, the image) must keep the
    store BentoML found it in: its workers resolve the Bento and its model there, and the
    configured ``bentoml.home`` (relative to the Bento's own ``src/``) is empty.
    """
    if not keep_bentoml_home:
        os.environ["BENTOML_HOME"] = str(settings.bentoml.home)
        settings.bentoml.home.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow.tracking_uri
    if settings.mlflow.tracking_uri.startswith("sqlite:///"):
        db_path = settings.mlflow.tracking_uri.split(":///", 1)[1]
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if numeric_threads is not None:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(numeric_threads)
