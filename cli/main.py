"""The ``housing`` Typer app: loads the configuration once and registers every command group.

Expected failures become one line on stderr with an exit code from :mod:`housing.exit_codes`
instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli import delivery, monitoring, serving, training
from cli.common import fail
from housing.config import ConfigError, load_config
from housing.runtime import prepare_process

app = typer.Typer(
    name="housing",
    help="Housing-price model: train, promote, serve, monitor and retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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


# Each command under its function's name, in the order `housing --help` lists them.
for group in (training, serving, monitoring, delivery):
    for command in group.COMMANDS:
        app.command()(command)
app.add_typer(training.shadow_app, name="shadow")
