"""The ``housing`` command: one entry point for training, serving, monitoring and delivery.

Each package registers its own commands (``register(app)``), so this file only owns what they
share: loading the configuration once, preparing the process, and turning expected failures
into one line on stderr with a meaningful exit code instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from housing.config import ConfigError, Settings, load_config
from housing.runtime import prepare_process

# Exit codes shared by every command (monitoring adds 3 for "retrain recommended").
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

err_console = Console(stderr=True)

app = typer.Typer(
    name="housing",
    help="Housing-price model: train, promote, serve, monitor and retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one clear line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_of(ctx: typer.Context) -> Settings:
    """The configuration loaded by the top-level callback."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        fail("configuration was not loaded")
    return root.obj


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (default: $HOUSING_CONFIG or ./configuration.yaml).",
            envvar="HOUSING_CONFIG",
            show_default=False,
        ),
    ] = None,
) -> None:
    try:
        settings = load_config(config)
    except ConfigError as exc:
        fail(str(exc))
    prepare_process(settings)
    ctx.obj = settings


def _register_all() -> None:
    from delivery.commands import register as register_delivery
    from monitoring.commands import register as register_monitoring
    from serving.commands import register as register_serving
    from training.commands import register as register_training

    for register in (register_training, register_serving, register_monitoring, register_delivery):
        register(app)


_register_all()
