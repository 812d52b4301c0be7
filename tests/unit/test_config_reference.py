"""docs/configuration.md is what the typed configuration generates, and it tells the truth: every
key documented, every key of the shipped files listed, every variable shown really overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from housing.config import load_config
from housing.config.reference import (
    ITEM,
    NAME,
    REFERENCE_PATH,
    main,
    reference_markdown,
    reference_rows,
    reference_tables,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configuration.yaml"
PROFILES = [CONFIG, ROOT / "examples" / "boston" / "configuration.yaml"]


def test_committed_reference_matches_the_configuration() -> None:
    committed = REFERENCE_PATH.read_text(encoding="utf-8")
    assert committed == reference_markdown(), "docs/configuration.md is stale: run `make docs`"


def test_every_key_has_a_description() -> None:
    undocumented = [row.key for row in reference_rows() if not row.description.strip()]
    assert undocumented == [], f"give these fields a description=: {', '.join(undocumented)}"


def _undocumented_keys(node: Any, prefix: str, rows: set[str], sections: set[str]) -> list[str]:
    """Dotted keys of a YAML mapping that the reference has no row or section for; the entries
    of a mapping of sections (features.<name>) and the items of a list of sections map to their
    `<name>` / `[]` rows."""
    missing = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if dotted in sections and isinstance(value, dict):
            missing += _undocumented_keys(value, f"{dotted}.", rows, sections)
        elif dotted not in rows and dotted not in sections:
            missing.append(dotted)
        elif f"{dotted}.{NAME}" in sections:
            for entry in value.values():
                missing += _undocumented_keys(entry, f"{dotted}.{NAME}.", rows, sections)
        elif f"{dotted}{ITEM}" in sections:
            for item in value:
                missing += _undocumented_keys(item, f"{dotted}{ITEM}.", rows, sections)
    return missing


@pytest.mark.parametrize("profile", PROFILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_key_of_the_shipped_files_is_in_the_reference(profile: Path) -> None:
    rows = {row.key for row in reference_rows()}
    sections = {table.key for table in reference_tables()}
    raw = yaml.safe_load(profile.read_text(encoding="utf-8"))
    assert _undocumented_keys(raw, "", rows, sections) == []
    # the walk reached the value models, not just the top-level keys
    assert "dataset.features.<name>.type" in rows
    assert "intervals.groups[].column" in rows


@pytest.mark.parametrize(
    ("key", "name", "value", "read"),
    [
        (
            "monitoring.columns.missing_margin",
            None,
            "0.07",
            lambda s: s.monitoring.columns.missing_margin == 0.07,
        ),
        (
            "service.feedback.max_items_per_request",
            None,
            "25",
            lambda s: s.service.feedback.max_items_per_request == 25,
        ),
        (
            "dataset.features.<name>.max",
            "median_income",
            "25",
            lambda s: s.dataset.features["median_income"].max == 25,
        ),
    ],
)
def test_the_variable_shown_for_a_key_overrides_it(
    monkeypatch: pytest.MonkeyPatch, key: str, name: str | None, value: str, read: Any
) -> None:
    row = next(row for row in reference_rows() if row.key == key)
    variable = row.environment.strip("`")
    if name is not None:
        variable = variable.replace(NAME.upper(), name.upper())
    assert not read(load_config(CONFIG, environ={})), "pick a value the file does not set"
    monkeypatch.setenv(variable, value)
    assert read(load_config(CONFIG))


def test_the_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == reference_markdown()
