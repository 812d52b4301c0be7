"""Shared by every section: the strict base model, the value types, the configuration error.

Relative paths (and relative ``sqlite:///`` URLs) are resolved against the directory of the
configuration file, so commands behave the same from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

DEFAULT_CONFIG_NAME = "configuration.yaml"


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the key."""


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", Path.cwd()))


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (_base_dir(info) / path).resolve()


def _resolve_sqlite_url(value: str, info: ValidationInfo) -> str:
    """Make ``sqlite:///relative.db`` absolute; leave other URLs (postgresql, http, ...) alone."""
    prefixes = ("sqlite:///", "sqlite+pysqlite:///")
    for prefix in prefixes:
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            if rest and not rest.startswith("/") and not rest.startswith(":memory:"):
                return prefix + str((_base_dir(info) / rest).resolve())
    return value


ProjectPath = Annotated[Path, AfterValidator(_resolve_path)]
DatabaseUrl = Annotated[str, Field(min_length=1), AfterValidator(_resolve_sqlite_url)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
