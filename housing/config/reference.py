"""The configuration reference (``docs/configuration.md``), generated from the typed sections.

What a key means is written once, as the ``description`` of its field; this module renders every
key of ``Settings`` with its type, default, bounds and ``HOUSING_*`` variable, so a new setting
documents itself. A unit test fails while the committed page differs from what this renders.

    python -m housing.config.reference           # print the page
    python -m housing.config.reference --write   # write docs/configuration.md (``make docs``)
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from housing.config.base import Section
from housing.config.loading import ENV_NESTING, ENV_PREFIX
from housing.config.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_PATH = REPO_ROOT / "docs" / "configuration.md"
REGENERATE = "make docs"
ITEM = "[]"  # a list item's keys: `intervals.groups[].column`
NAME = "<name>"  # a mapping's keys: `dataset.features.<name>.type`

_INTRO = f"""\
# Configuration reference

Generated from the typed configuration (`housing/config/`) by `{REGENERATE}`
(`python -m housing.config.reference --write`): edit the `description` of a field, not this page
(a unit test fails while the page is stale).

Every key of `configuration.yaml`, section by section in the file's order.

- **default**: the value when the key is left out (`required`: the file must set it, when it sets
  the key's section); the shipped `configuration.yaml` may set another one.
- **constraints**: checked on load; a value outside them is an error naming the key.
- **environment**: the variable that overrides the key (`HOUSING_<SECTION>__<KEY>`, `__` between
  levels, the section must be in the file). Its value is read as YAML, so `true`, `3`,
  `[a, b]` and an empty value (`null`) get their types. The keys of a list item (`[]`) are
  set with the whole list's variable, e.g. `HOUSING_INTERVALS__GROUPS='[{{column: latitude}}]'`.
- Relative paths, and relative `sqlite:///` URLs, resolve against the configuration file's
  folder.
"""


@dataclass(frozen=True)
class Row:
    """One key of the reference."""

    key: str
    type: str
    default: str
    constraints: str
    environment: str
    description: str


@dataclass
class Table:
    """The keys of one section (or of a mapping's / list's value model) under one heading."""

    key: str
    depth: int
    notes: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    """Where a section sits: its dotted key, and its variable (None inside a list item)."""

    parts: tuple[str, ...]
    env_parts: tuple[str, ...] | None
    list_env: str = ""

    def child(self, name: str) -> _Place:
        env = None if self.env_parts is None else (*self.env_parts, name)
        return _Place((*self.parts, name), env, self.list_env)

    def entry(self) -> _Place:
        """The place of any entry of a mapping of sections: ``features.<name>``."""
        return self.child(NAME)

    def item(self) -> _Place:
        """The place of any item of a list of sections, set by the whole list's variable."""
        list_env = self.list_env if self.env_parts is None else _variable(self.env_parts)
        return _Place((*self.parts[:-1], self.parts[-1] + ITEM), None, list_env)

    def environment(self) -> str:
        if self.env_parts is None:
            return f"via `{self.list_env}`"
        return f"`{_variable(self.env_parts)}`"


def _variable(parts: Sequence[str]) -> str:
    return ENV_PREFIX + ENV_NESTING.join(part.upper() for part in parts)


def _members(annotation: Any) -> tuple[list[Any], bool]:
    """The non-null members of a union (or the annotation alone) and whether null is allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return [arg for arg in args if arg is not type(None)], type(None) in args
    return [annotation], False


def _section_class(annotation: Any) -> type[Section] | None:
    """The Section an annotation holds directly (optionally with null), else None."""
    members, _ = _members(annotation)
    if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], Section):
        return members[0]
    return None


def _container_of_sections(annotation: Any) -> tuple[str, type[Section]] | None:
    """``("dict", Model)`` for ``dict[str, Model]``, ``("list", Model)`` for ``list[Model]``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and _section_class(args[1]):
        return "dict", args[1]
    if origin is list and _section_class(args[0]):
        return "list", args[0]
    return None


def _metadata(annotation: Any) -> tuple[Any, list[Any]]:
    """An annotation without ``Annotated``, and the constraints it carried."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        inner, more = _metadata(base)
        return inner, [*more, *extra]
    return annotation, []


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(metadata: Sequence[Any], sized: bool) -> list[str]:
    """``0 < x < 1``, ``x ≥ 2``, ``at least 1 item``, ``non-empty``, ``matches `^...$```."""
    found: dict[str, Any] = {}
    flat = [part for item in metadata for part in getattr(item, "metadata", None) or [item]]
    for item in flat:
        for name in ("gt", "ge", "lt", "le", "min_length", "pattern"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    low = next(((op, found[n]) for n, op in (("gt", "<"), ("ge", "≤")) if n in found), None)
    high = next(((op, found[n]) for n, op in (("lt", "<"), ("le", "≤")) if n in found), None)
    texts = []
    if low and high:
        texts.append(f"{_number(low[1])} {low[0]} x {high[0]} {_number(high[1])}")
    elif low:
        texts.append(f"x {'>' if low[0] == '<' else '≥'} {_number(low[1])}")
    elif high:
        texts.append(f"x {high[0]} {_number(high[1])}")
    if "min_length" in found:
        count = found["min_length"]
        texts.append(f"at least {count} item{'s' * (count != 1)}" if sized else "non-empty")
    if "pattern" in found:
        texts.append(f"matches `{found['pattern']}`")
    return texts


def _type_name(annotation: Any, inline_bounds: bool = True) -> str:
    """``float``, ``int or null``, `` `a` / `b` ``, ``list[float]``, ``dict[str, float (x > 0)]``.

    Bounds of an item type are written inline; a key's own bounds go to its constraints.
    """
    base, metadata = _metadata(annotation)
    members, nullable = _members(base)
    if len(members) > 1 or nullable:
        names = [_type_name(member, inline_bounds) for member in members]
        return " or ".join([*names, "null"] if nullable else names)
    origin = typing.get_origin(base)
    if origin is Literal:
        return " / ".join(f"`{value}`" for value in typing.get_args(base))
    if origin in (list, dict, tuple):
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in typing.get_args(base))}]"
    name = {Path: "path", Any: "any"}.get(base, getattr(base, "__name__", str(base)))
    bounds = _bounds(metadata, sized=False) if inline_bounds else []
    return f"{name} ({', '.join(bounds)})" if bounds else name


def _own_metadata(info: FieldInfo) -> tuple[Any, list[Any]]:
    """A key's value type (without null) and every constraint on it, wherever it was written."""
    members, _ = _members(info.annotation)
    metadata = list(info.metadata)
    bases = []
    for member in members:
        base, extra = _metadata(member)
        bases.append(base)
        metadata += extra
    return bases[0], metadata


def _plain(value: Any) -> Any:
    """``value`` as the plain data YAML dumps: models as their non-default keys, paths as text."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(exclude_defaults=True))
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def _yaml(value: Any) -> str:
    """A default as the loader's own YAML library writes it (flow style, one line), so a string
    that would read back as a number, boolean, null or date is quoted exactly when it must be."""
    text = yaml.safe_dump(
        _plain(value), default_flow_style=True, width=math.inf, sort_keys=False, allow_unicode=True
    )
    return text.strip().removesuffix("...").strip()


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    return f"`{_yaml(info.get_default(call_default_factory=True))}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    """First paragraph of a section's own docstring (not inherited), in Markdown quoting."""
    doc = model.__dict__.get("__doc__")
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()).replace("``", "`")


def _row(place: _Place, info: FieldInfo, type_text: str = "") -> Row:
    base, metadata = _own_metadata(info)
    constraints = _bounds(metadata, sized=typing.get_origin(base) in (list, dict, tuple))
    if base is Path:
        constraints.append("relative to the file's folder")
    return Row(
        key=".".join(place.parts),
        type=type_text or _type_name(info.annotation, inline_bounds=False),
        default=_default(info),
        constraints=", ".join(constraints),
        environment=place.environment(),
        description=info.description or "",
    )


def _notes(info: FieldInfo, section: type[Section]) -> list[str]:
    """What a nested section's heading says: its docstring, whether the file must set it or may
    leave it out (null), and its field's description."""
    if info.is_required():
        presence = "Required."
    elif _members(info.annotation)[1]:
        presence = "Optional: `null` (the default) leaves it out."
    else:
        presence = ""
    return [_doc(section), presence, _sentence(info.description or "")]


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?", ")")) else ".")


def _tables(
    model: type[Section], place: _Place, notes: list[str], depth: int = 0
) -> Iterator[Table]:
    """The table of ``model``'s own keys, then one table per nested section, in field order."""
    table = Table(".".join(place.parts), depth, [n for n in notes if n])
    nested: list[tuple[type[Section], _Place, list[str]]] = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        child = place.child(name)
        section = _section_class(info.annotation)
        container = _container_of_sections(info.annotation)
        if section is not None:
            nested.append((section, child, _notes(info, section)))
        elif container is not None:
            kind, value_model = container
            if kind == "dict":
                inner, label = child.entry(), f"map: `{NAME}` → keys below"
            else:
                inner, label = child.item(), "list of items with the keys below"
            table.rows.append(_row(child, info, label))
            nested.append((value_model, inner, [_doc(value_model)]))
        else:
            table.rows.append(_row(child, info))
    yield table
    for section, child, child_notes in nested:
        yield from _tables(section, child, child_notes, depth + 1)


def reference_tables() -> list[Table]:
    """Every table of the reference: one per section and nested section, in field order."""
    tables: list[Table] = []
    for name, info in Settings.model_fields.items():
        section = _section_class(info.annotation)
        if section is not None:
            tables.extend(_tables(section, _Place((name,), (name,)), _notes(info, section)))
    return tables


def reference_rows() -> list[Row]:
    return [row for table in reference_tables() for row in table.rows]


def _render(table: Table) -> list[str]:
    lines = ["#" * min(2 + table.depth, 4) + f" {table.key}", ""]
    if table.notes:
        lines += [" ".join(_cell(note) for note in table.notes), ""]
    if table.rows:
        lines += [
            "| key | type | default | constraints | environment | description |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            "| "
            + " | ".join(
                _cell(text)
                for text in (
                    f"`{row.key}`",
                    row.type,
                    row.default,
                    row.constraints,
                    row.environment,
                    row.description,
                )
            )
            + " |"
            for row in table.rows
        ]
        lines.append("")
    return lines


def reference_markdown() -> str:
    """The whole page: the introduction, then every section's table."""
    lines = [_INTRO]
    for table in reference_tables():
        lines += _render(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print or write docs/configuration.md.")
    parser.add_argument("--write", action="store_true", help=f"write {REFERENCE_PATH}")
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.write:
        REFERENCE_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {REFERENCE_PATH.relative_to(REPO_ROOT)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
