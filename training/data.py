"""Read the training CSV, prove it is the expected file and valid, before anything is logged."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from housing.config import Settings
from housing.validation import DataSource, DataValidationError, ValidationIssue, load_csv

_CHUNK = 1 << 20


@dataclass(frozen=True)
class TrainingData:
    """The validated, typed training table and the identity of the file it came from."""

    frame: pd.DataFrame
    path: Path
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_training_data(settings: Settings) -> TrainingData:
    """The configured dataset, validated against the schema (target included).

    Raises :class:`DataValidationError` for an unreadable, empty or invalid file, or a file
    whose checksum differs from ``dataset.sha256`` when that is set.
    """
    path = settings.dataset.path
    frame = load_csv(path, settings, with_target=True)
    sha256 = file_sha256(path)
    expected = settings.dataset.sha256
    if expected and expected.lower() != sha256:
        reason = (
            f"sha256 is {sha256}, configuration expects {expected}"
            " (update dataset.sha256 if the data changed on purpose)"
        )
        raise DataValidationError(DataSource.csv(path), [ValidationIssue(None, reason)])
    return TrainingData(frame=frame.reset_index(drop=True), path=path, sha256=sha256)
