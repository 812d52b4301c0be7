"""CLI commands of this package, added to the ``housing`` app by ``housing.cli``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
