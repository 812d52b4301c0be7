"""Check house records against the configured schema before anything uses them.

Training, batch scoring, retraining and monitoring all read tables that a person or a production
system produced. Each of them must stop (or set rows aside) with a message that names the column
and the row, instead of training on garbage or failing deep inside scikit-learn. The rules come
only from ``dataset`` in the configuration: type, allowed range, categories, nullability and the
target's plausible range.

Rows are identified by a *label*: CSV files use the line number in the file (header = line 1),
in-memory frames use the 0-based position, so the message points where the user would look.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from housing.config import FeatureSpec, Settings

# How many individual problems a one-line error message spells out before summarising.
_SHOWN_ISSUES = 3


@dataclass(frozen=True)
class DataSource:
    """Where rows came from, as messages name it: ``data.csv: line 7, ...`` for a file (line 1
    is the header), ``feedback: row 3, ...`` for a frame. One object, so a file's name never
    travels without its line numbering."""

    name: str = "data"
    row_word: str = "row"
    row_offset: int = 0

    @classmethod
    def csv(cls, path: Path | str) -> DataSource:
        return cls(str(path), "line", 2)

    def row(self, position: int) -> str:
        return f"{self.row_word} {position + self.row_offset}"


FRAME = DataSource()


@dataclass(frozen=True)
class ValidationIssue:
    """One problem: ``row`` is the 0-based position (None when the whole column/file is wrong)."""

    column: str | None
    reason: str
    row: int | None = None

    def describe(self, source: DataSource = FRAME) -> str:
        where = []
        if self.row is not None:
            where.append(source.row(self.row))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return (", ".join(where) + ": " if where else "") + self.reason


class DataValidationError(ValueError):
    """Data that cannot be used; ``str()`` is one line naming the source, column and row."""

    def __init__(self, source: DataSource, issues: list[ValidationIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(summarize(source, issues))


def summarize(source: DataSource, issues: list[ValidationIssue]) -> str:
    shown = "; ".join(issue.describe(source) for issue in issues[:_SHOWN_ISSUES])
    more = len(issues) - _SHOWN_ISSUES
    suffix = f" (and {more} more problems)" if more > 0 else ""
    return f"{source.name}: {shown}{suffix}"


# ----------------------------------------------------------------------------- reading


def read_csv(path: Path | str) -> pd.DataFrame:
    """Read a CSV as text columns (types are checked by :func:`check_frame`, not guessed).

    Raises :class:`DataValidationError` for a missing, unreadable, empty or malformed file.
    """
    path = Path(path)
    source = DataSource.csv(path)
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except FileNotFoundError:
        raise DataValidationError(source, [ValidationIssue(None, "file not found")]) from None
    except IsADirectoryError:
        raise DataValidationError(source, [ValidationIssue(None, "is a directory")]) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(source, [ValidationIssue(None, "file is empty")]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = f"not a readable CSV file ({str(exc).strip().splitlines()[0]})"
        raise DataValidationError(source, [ValidationIssue(None, reason)]) from None
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc})"
        raise DataValidationError(source, [ValidationIssue(None, reason)]) from None
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise DataValidationError(source, [ValidationIssue(None, "has a header but no data rows")])
    return frame


# ----------------------------------------------------------------------------- checking


def _numeric(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers; return (values, mask of cells that held something that is not a number)."""
    missing = values.isna().to_numpy()
    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    unparseable = np.isnan(parsed) & ~missing
    return parsed, unparseable


def _rows(mask: np.ndarray) -> Iterable[int]:
    return np.flatnonzero(mask).tolist()


def _check_number(
    column: str,
    values: pd.Series,
    *,
    integer: bool,
    nullable: bool,
    low: float | None,
    high: float | None,
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    raw = values.to_numpy(dtype=object)
    parsed, unparseable = _numeric(values)
    missing = values.isna().to_numpy()
    issues += [
        ValidationIssue(column, f"{raw[i]!r} is not a number", i) for i in _rows(unparseable)
    ]
    if not nullable:
        issues += [ValidationIssue(column, "missing value", i) for i in _rows(missing)]
    present = ~np.isnan(parsed)
    issues += [
        ValidationIssue(column, f"{parsed[i]} is not a finite number", i)
        for i in _rows(present & ~np.isfinite(parsed))
    ]
    finite = present & np.isfinite(parsed)
    if integer:
        issues += [
            ValidationIssue(column, f"{parsed[i]:g} is not a whole number", i)
            for i in _rows(finite & (np.floor(parsed) != parsed))
        ]
    if low is not None:
        issues += [
            ValidationIssue(column, f"{parsed[i]:g} is below the minimum {low:g}", i)
            for i in _rows(finite & (parsed < low))
        ]
    if high is not None:
        issues += [
            ValidationIssue(column, f"{parsed[i]:g} is above the maximum {high:g}", i)
            for i in _rows(finite & (parsed > high))
        ]
    return issues


def _check_category(column: str, values: pd.Series, spec: FeatureSpec) -> list[ValidationIssue]:
    allowed = set(spec.categories or [])
    missing = values.isna().to_numpy()
    raw = values.to_numpy(dtype=object)
    issues: list[ValidationIssue] = []
    if not spec.nullable:
        issues += [ValidationIssue(column, "missing value", i) for i in _rows(missing)]
    choices = ", ".join(repr(c) for c in spec.categories or [])
    issues += [
        ValidationIssue(column, f"{raw[i]!r} is not one of {choices}", i)
        for i in range(len(raw))
        if not missing[i] and raw[i] not in allowed
    ]
    return issues


def missing_columns(frame: pd.DataFrame, settings: Settings, *, with_target: bool) -> list[str]:
    wanted = settings.feature_names + ([settings.dataset.target] if with_target else [])
    return [column for column in wanted if column not in frame.columns]


def check_frame(
    frame: pd.DataFrame, settings: Settings, *, with_target: bool
) -> list[ValidationIssue]:
    """Every problem in ``frame``, ordered by row; column-level problems (no rows) come first.

    Extra columns are allowed and ignored. ``with_target`` also checks the target column
    (present, numeric, not missing, inside ``dataset.target_min..target_max``).
    """
    absent = missing_columns(frame, settings, with_target=with_target)
    if absent:
        return [ValidationIssue(column, "missing column") for column in absent]
    issues: list[ValidationIssue] = []
    for column, spec in settings.dataset.features.items():
        if spec.type == "category":
            issues += _check_category(column, frame[column], spec)
        else:
            issues += _check_number(
                column,
                frame[column],
                integer=spec.type == "int",
                nullable=spec.nullable,
                low=spec.min,
                high=spec.max,
            )
    if with_target:
        dataset = settings.dataset
        issues += _check_number(
            dataset.target,
            frame[dataset.target],
            integer=False,
            nullable=False,
            low=dataset.target_min,
            high=dataset.target_max,
        )
    return sorted(issues, key=lambda issue: -1 if issue.row is None else issue.row)


def typed_frame(frame: pd.DataFrame, settings: Settings, *, with_target: bool) -> pd.DataFrame:
    """The configured columns only, in configured order: numbers as float64, categories as
    Python strings (None when missing). Call after :func:`check_frame` found nothing."""
    columns: dict[str, pd.Series] = {}
    for column, spec in settings.dataset.features.items():
        if spec.type == "category":
            values = frame[column].astype(object)
            columns[column] = values.where(values.notna(), None).astype(object)
        else:
            columns[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if with_target:
        target = settings.dataset.target
        columns[target] = pd.to_numeric(frame[target], errors="coerce").astype("float64")
    return pd.DataFrame(columns, index=frame.index)


def _frame_issues(
    frame: pd.DataFrame, settings: Settings, with_target: bool, source: DataSource
) -> list[ValidationIssue]:
    if frame.empty:
        raise DataValidationError(source, [ValidationIssue(None, "has no rows")])
    return check_frame(frame, settings, with_target=with_target)


def validate_frame(
    frame: pd.DataFrame, settings: Settings, *, with_target: bool, source: DataSource = FRAME
) -> pd.DataFrame:
    """Return the typed frame, or raise :class:`DataValidationError` listing the problems."""
    issues = _frame_issues(frame, settings, with_target, source)
    if issues:
        raise DataValidationError(source, issues)
    return typed_frame(frame, settings, with_target=with_target)


def split_valid(
    frame: pd.DataFrame, settings: Settings, *, with_target: bool, source: DataSource = FRAME
) -> tuple[pd.DataFrame, list[ValidationIssue]]:
    """Keep the rows that pass, and report the others instead of dropping them silently.

    Returns ``(typed frame of valid rows, issues of invalid rows)``; the frame keeps the
    original index so callers can line results up with the input. Problems that affect every
    row (a missing column, an empty table) still raise :class:`DataValidationError`.
    """
    issues = _frame_issues(frame, settings, with_target, source)
    fatal = [issue for issue in issues if issue.row is None]
    if fatal:
        raise DataValidationError(source, fatal)
    bad_rows = {issue.row for issue in issues}
    keep = np.ones(len(frame), dtype=bool)
    keep[list(bad_rows)] = False
    return typed_frame(frame.iloc[keep], settings, with_target=with_target), issues


def load_csv(path: Path | str, settings: Settings, *, with_target: bool) -> pd.DataFrame:
    """Read and validate a CSV in one step: the typed frame or one clear error."""
    frame = read_csv(path)
    return validate_frame(frame, settings, with_target=with_target, source=DataSource.csv(path))
