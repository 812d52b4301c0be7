"""What every command group shares: one-line failures, the loaded configuration, quiet
libraries and the stderr spinner."""

from __future__ import annotations

import logging
import os
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from housing import exit_codes
from housing.config import Settings

err_console = Console(stderr=True)


def fail(message: str, code: int = exit_codes.BAD_INPUT) -> NoReturn:
    """Print one clear line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_of(ctx: typer.Context) -> Settings:
    """The configuration loaded by the top-level callback."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        fail("configuration was not loaded")
    return root.obj


def quiet_libraries() -> None:
    """MLflow and BentoML log chatty INFO lines (registry creation, alembic) on every run."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "bentoml"):
        logging.getLogger(name).setLevel(logging.WARNING)


def spinner() -> Progress:
    """A transient spinner on stderr, so stdout keeps only the result."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
