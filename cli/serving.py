"""``housing serve``: the README's first command.

Trains and promotes a model when the registry has no champion yet, then replaces itself with
``bentoml serve service:HousingPriceService`` (exec, so SIGTERM reaches BentoML directly and
the prediction log is drained on shutdown) with the configuration and stores of this run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import fail, settings_of
from cli.training import train_with_progress
from housing import exit_codes
from housing.config import ConfigError, Settings

# service.py sits at the project root, next to the packages it imports.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SERVICE_TARGET = "service:HousingPriceService"


def serve_environment(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    """The environment of the ``bentoml serve`` process: same configuration, same stores."""
    threads = str(settings.service.numeric_threads)
    return environ | {
        "HOUSING_CONFIG": str(settings.source),
        "BENTOML_HOME": str(settings.bentoml.home),
        "MLFLOW_TRACKING_URI": settings.mlflow.tracking_uri,
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        # Service-level options come from configuration.yaml via @bentoml.service(...).
        "BENTOML_DO_NOT_TRACK": environ.get("BENTOML_DO_NOT_TRACK", "true"),
    }


def serve_command(settings: Settings) -> list[str]:
    service = settings.service
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE_TARGET,
        "--working-dir",
        str(PROJECT_ROOT),
        "--host",
        service.host,
        "--port",
        str(service.port),
    ]


def serve(
    ctx: typer.Context,
    train_if_missing: Annotated[
        bool,
        typer.Option(
            "--train/--no-train", help="Train and promote a model first if there is no champion."
        ),
    ] = True,
) -> None:
    """Serve the champion over HTTP on service.host:service.port (and gRPC on grpc_port)."""
    from housing.registry import RegistryError, get_champion
    from serving.auth import feedback_token
    from serving.preflight import startup_problems

    settings = settings_of(ctx)
    try:
        feedback_token(settings)
    except ConfigError as exc:
        fail(str(exc), exit_codes.BAD_INPUT)
    problems = startup_problems(settings)
    if problems:  # before training or exec: nothing starts that would crash-loop
        fail("cannot serve: " + "; ".join(problems), exit_codes.FAILURE)
    try:
        champion = get_champion(settings)
    except RegistryError as exc:
        fail(str(exc), exit_codes.FAILURE)
    if champion is None:
        if not train_if_missing:
            fail("there is no champion model yet: run `housing train` first", exit_codes.BAD_INPUT)
        typer.echo("No champion model yet: training one first.", err=True)
        train_with_progress(settings, force=False, reason="first champion for housing serve")
    environ = serve_environment(settings, dict(os.environ))
    command = serve_command(settings)
    typer.echo(
        f"Serving on http://{settings.service.host}:{settings.service.port} "
        f"(config {settings.source})",
        err=True,
    )
    os.chdir(PROJECT_ROOT)
    os.execvpe(command[0], command, environ)


# Registered by cli.main under its function's name.
COMMANDS = (serve,)
