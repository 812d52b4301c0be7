"""Reading ``configuration.yaml``, applying ``HOUSING_*`` environment overrides and turning
validation errors into one line that names each key (or the variable that set it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from housing.config.base import DEFAULT_CONFIG_NAME, ConfigError
from housing.config.settings import Settings

ENV_PREFIX = "HOUSING_"
ENV_NESTING = "__"
CONFIG_ENV = "HOUSING_CONFIG"
# Environment variables with the prefix that are not configuration overrides.
RESERVED_ENV = {"HOUSING_CONFIG", "HOUSING_FEEDBACK_TOKEN", "HOUSING_ADMIN_TOKEN"}


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _override_variables(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Configuration location (lower case) -> the ``HOUSING_*`` variable that set it."""
    found: dict[tuple[str, ...], str] = {}
    for name in environ:
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        path = name[len(ENV_PREFIX) :].split(ENV_NESTING)
        if len(path) >= 2 and all(path):
            found[tuple(part.lower() for part in path)] = name
    return found


def _format_errors(
    error: ValidationError, source: Path, overrides: Mapping[tuple[str, ...], str]
) -> str:
    """One ``key: reason`` per problem; a value that came from an environment variable is
    named by the variable (the file is not where the user has to look)."""
    lines = []
    from_file = False
    for item in error.errors():
        key = _format_location(item["loc"])
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        elif item["type"] == "missing":
            reason = "missing key"
        else:
            reason = item["msg"]
        location = tuple(str(part).lower() for part in item["loc"])
        variable = next(
            (name for path, name in overrides.items() if location[: len(path)] == path), None
        )
        if variable is None:
            from_file = True
            lines.append(f"{key}: {reason}")
        else:
            lines.append(f"{variable} sets {key}: {reason}")
    where = f"invalid configuration {source}" if from_file else "invalid environment override"
    return f"{where}: " + "; ".join(lines)


def _find_key(mapping: Mapping[str, Any], wanted: str) -> str | None:
    """Environment variable names are upper case; YAML keys may be any case."""
    for key in mapping:
        if str(key).lower() == wanted.lower():
            return str(key)
    return None


def _env_scalar(text: str) -> Any:
    """An override's value as YAML (``true``, ``3``, ``[a, b]``); text YAML cannot parse (a cron
    expression such as ``*/15 * * * *``) stays a string; empty means null."""
    if text == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``HOUSING_A__B=value`` applied as ``raw[a][b] = value``.

    Values are parsed as YAML scalars so ``true``, ``3`` and ``[a, b]`` get their types. A
    variable that names no existing section is an error, so a misspelt override is not ignored.
    """
    result: dict[str, Any] = yaml.safe_load(yaml.safe_dump(raw)) or {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        path = name[len(ENV_PREFIX) :].split(ENV_NESTING)
        if len(path) < 2 or not all(path):
            continue
        node: dict[str, Any] = result
        for depth, part in enumerate(path):
            key = _find_key(node, part)
            last = depth == len(path) - 1
            if key is None:
                if depth == 0:
                    raise ConfigError(f"{name}: unknown configuration section '{part.lower()}'")
                key = part.lower()
            if last:
                node[key] = _env_scalar(environ[name])
            else:
                child = node.get(key)
                if child is None:
                    child = {}
                    node[key] = child
                if not isinstance(child, dict):
                    dotted = ".".join(path[: depth + 1]).lower()
                    raise ConfigError(f"{name}: '{dotted}' is a value, not a section")
                node = child
    return result


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def load_config(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, override from the environment and validate; raise ConfigError naming the key."""
    environ = os.environ if environ is None else environ
    source = Path(path) if path else default_config_path(environ)
    source = source.expanduser().resolve()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {source}: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration {source} must be a mapping of sections")
    raw = apply_env_overrides(raw, environ)
    raw["source"] = source
    try:
        return Settings.model_validate(raw, context={"base_dir": source.parent})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source, _override_variables(environ))) from None
