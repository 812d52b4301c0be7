"""Schema validation of house tables: each kind of bad input is named with its column and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from housing.config import Settings, load_config
from housing.validation import (
    DataSource,
    DataValidationError,
    check_frame,
    load_csv,
    read_csv,
    split_valid,
    validate_frame,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(ROOT / "configuration.yaml", environ={})


@pytest.fixture(scope="module")
def rows(settings: Settings) -> pd.DataFrame:
    """The first rows of the real data, as text, the way a CSV arrives."""
    return pd.read_csv(settings.dataset.path, dtype=str, nrows=20)


def _csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    return path


def test_valid_rows_come_back_typed(settings: Settings, rows: pd.DataFrame) -> None:
    typed = validate_frame(rows, settings, with_target=True)
    assert list(typed.columns) == [*settings.feature_names, settings.dataset.target]
    assert typed["median_income"].dtype == np.float64
    assert typed["ocean_proximity"].iloc[0] == "NEAR BAY"


def test_missing_target_column_is_named(settings: Settings, rows: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="column 'median_house_value': missing column"):
        validate_frame(rows.drop(columns=[settings.dataset.target]), settings, with_target=True)
    # Scoring does not need the target.
    validate_frame(rows.drop(columns=[settings.dataset.target]), settings, with_target=False)


def test_string_in_numeric_column_names_line(
    settings: Settings, rows: pd.DataFrame, tmp_path: Path
) -> None:
    bad = rows.copy()
    bad.loc[3, "median_income"] = "lots"
    with pytest.raises(DataValidationError) as caught:
        load_csv(_csv(tmp_path, bad), settings, with_target=True)
    message = str(caught.value)
    assert "line 5, column 'median_income': 'lots' is not a number" in message
    assert "\n" not in message


def test_out_of_range_values(settings: Settings, rows: pd.DataFrame) -> None:
    bad = rows.copy()
    bad.loc[0, "latitude"] = "55.0"
    bad.loc[1, settings.dataset.target] = "-5"
    issues = check_frame(bad, settings, with_target=True)
    reasons = {(i.row, i.column): i.reason for i in issues}
    assert reasons[(0, "latitude")] == "55 is above the maximum 42.1"
    assert reasons[(1, settings.dataset.target)] == "-5 is below the minimum 1000"


def test_disallowed_category_and_missing_value(settings: Settings, rows: pd.DataFrame) -> None:
    bad = rows.copy()
    bad.loc[2, "ocean_proximity"] = "MARS"
    bad.loc[4, "households"] = np.nan
    bad.loc[5, "total_bedrooms"] = np.nan  # nullable in the configuration
    issues = check_frame(bad, settings, with_target=True)
    assert [(i.row, i.column) for i in issues] == [(2, "ocean_proximity"), (4, "households")]
    assert "'MARS' is not one of" in issues[0].reason
    assert issues[1].reason == "missing value"


def test_infinite_and_fractional_int(rows: pd.DataFrame) -> None:
    settings = load_config(
        ROOT / "configuration.yaml",
        environ={"HOUSING_DATASET__FEATURES__HOUSING_MEDIAN_AGE__TYPE": "int"},
    )
    bad = rows.copy()
    bad.loc[0, "housing_median_age"] = "12.5"
    bad.loc[1, "total_rooms"] = "inf"
    reasons = {(i.row, i.column): i.reason for i in check_frame(bad, settings, with_target=True)}
    assert reasons[(0, "housing_median_age")] == "12.5 is not a whole number"
    assert reasons[(1, "total_rooms")] == "inf is not a finite number"


def test_empty_header_only_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="file is empty"):
        read_csv(empty)
    header = tmp_path / "header.csv"
    header.write_text("longitude,latitude\n")
    with pytest.raises(DataValidationError, match="has a header but no data rows"):
        read_csv(header)
    with pytest.raises(DataValidationError, match="file not found"):
        read_csv(tmp_path / "nope.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage\x00\n\x9c\x00")
    with pytest.raises(DataValidationError, match="not a readable CSV file"):
        read_csv(binary)


def test_split_valid_keeps_good_rows_and_reports_bad_ones(
    settings: Settings, rows: pd.DataFrame
) -> None:
    bad = rows.copy()
    bad.loc[7, "population"] = "many"
    bad.loc[9, "population"] = "0"
    valid, issues = split_valid(
        bad, settings, with_target=False, source=DataSource.csv("houses.csv")
    )
    assert len(valid) == len(rows) - 2
    assert 7 not in valid.index and 9 not in valid.index
    assert [issue.describe(DataSource.csv("houses.csv")) for issue in issues] == [
        "line 9, column 'population': 'many' is not a number",
        "line 11, column 'population': 0 is below the minimum 1",
    ]


def test_message_summarises_many_problems(settings: Settings, rows: pd.DataFrame) -> None:
    bad = rows.copy()
    bad["median_income"] = "x"
    with pytest.raises(DataValidationError, match=r"\(and 17 more problems\)"):
        validate_frame(bad, settings, with_target=True)
