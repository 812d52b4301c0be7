"""The model bundle: the one place that knows what a published model is made of and where.

A registered model version is a :class:`ModelRef` (MLflow version, MLflow run, BentoML tag).
Its bundle (pickled :class:`~housing.pricing.PricingModel`, reference sample, model card) is
written twice, identically: into the BentoML model directory and as the MLflow run's
``BUNDLE_ARTIFACT_DIR`` artifacts, so a process without a local BentoML store (a replica, a
container, the monitor in CI) can still load it. The labels and tags below link both stores;
a built Bento names its packaged model with the ``BENTO_LABEL_*`` labels.

Which version is champion, the history and the listing are :mod:`housing.registry`'s job.
``bentoml`` and ``mlflow`` are imported lazily: importing this module must not freeze
``BENTOML_HOME`` before :func:`housing.runtime.prepare_process` ran.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd

from housing.config import Settings
from housing.pricing import PricingModel

# Files of a bundle: identical in the BentoML model directory and under the MLflow run's
# ``BUNDLE_ARTIFACT_DIR`` artifact directory.
MODEL_FILE = "pricing_model.pkl"
REFERENCE_FILE = "reference.parquet"
CARD_FILE = "model_card.json"
CARD_HTML_FILE = "model_card.html"  # the card rendered (housing.model_card.render_html)
BUNDLE_ARTIFACT_DIR = "bundle"

# MLflow run and model-version tag naming the BentoML model; BentoML model labels naming MLflow.
TAG_BENTO = "bentoml_tag"
LABEL_VERSION = "mlflow_version"
LABEL_RUN = "mlflow_run_id"
LABEL_REGISTERED = "registered_model"
LABEL_DATA = "data_sha256"
LABEL_STAGE = "stage"

# Labels of a built Bento naming the model it packages (written by delivery/build.py).
BENTO_LABEL_MODEL = "bento_model"
BENTO_LABEL_VERSION = "model_version"
BENTO_LABEL_RUN = "mlflow_run_id"


class BundleNotFound(FileNotFoundError):  # noqa: N818 - the name the callers know
    """Neither the local BentoML store nor the MLflow run has the bundle's files."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version: its MLflow version and run, and its BentoML model tag."""

    version: int
    run_id: str
    bento_tag: str


@dataclass(frozen=True)
class LoadedModel(ModelRef):
    """A model ready to price houses, with the facts the service reports at ``GET /model``.

    ``info`` is the model card: trained_at (ISO), holdout and cv metrics, calibration, the
    feature schema, dataset name/sha256, reason, MLflow version/run and BentoML tag.
    """

    pricing: PricingModel
    info: dict[str, Any] = field(default_factory=dict)


def write_card_files(directory: Path, card: dict[str, Any], page: str) -> Path:
    """Write the model card (JSON and its HTML ``page``) into ``directory``; returns the page."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    html_path = directory / CARD_HTML_FILE
    html_path.write_text(page, encoding="utf-8")
    return html_path


def write_bundle(
    directory: Path,
    pricing: PricingModel,
    reference: pd.DataFrame,
    card: dict[str, Any],
    card_page: str,
) -> None:
    """Write the files of one model into ``directory`` (a BentoML model dir or a temp dir)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / MODEL_FILE).open("wb") as handle:
        cloudpickle.dump(pricing, handle)
    reference.to_parquet(directory / REFERENCE_FILE, index=False)
    write_card_files(directory, card, card_page)


def _read_model(directory: Path) -> tuple[PricingModel, dict[str, Any]]:
    with (directory / MODEL_FILE).open("rb") as handle:
        pricing = cloudpickle.load(handle)
    card_path = directory / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return pricing, card


def local_bento_dir(tag: str) -> Path | None:
    """The model's directory in the local BentoML store, or None if this store lacks it."""
    if not tag:
        return None
    import bentoml
    from bentoml.exceptions import BentoMLException, NotFound

    try:
        return Path(bentoml.models.get(tag).path)
    except (NotFound, BentoMLException, ValueError):
        return None


def _download_bundle(settings: Settings, run_id: str, files: list[str], into: Path) -> Path:
    """Download bundle files of a run into ``into``; returns ``into``."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    for name in files:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=f"{BUNDLE_ARTIFACT_DIR}/{name}",
                dst_path=str(into / "download"),
                tracking_uri=settings.mlflow.tracking_uri,
            )
        except (MlflowException, OSError) as exc:
            raise BundleNotFound(f"run {run_id} has no artifact {name}: {exc}") from exc
        Path(local).replace(into / name)
    return into


def load_model(settings: Settings, ref: ModelRef) -> LoadedModel:
    """Load the model of ``ref``: from the local BentoML store, else from the MLflow run.

    Raises :class:`BundleNotFound` when neither has it.
    """
    directory = local_bento_dir(ref.bento_tag)
    if directory is not None and (directory / MODEL_FILE).is_file():
        pricing, card = _read_model(directory)
    else:
        with tempfile.TemporaryDirectory(prefix="housing-model-") as tmp:
            try:
                bundle = _download_bundle(settings, ref.run_id, [MODEL_FILE, CARD_FILE], Path(tmp))
            except BundleNotFound as exc:
                raise BundleNotFound(
                    f"model version {ref.version} is neither in the BentoML store"
                    f" ({ref.bento_tag or 'no tag'}) nor in MLflow: {exc}"
                ) from exc
            pricing, card = _read_model(bundle)
    return LoadedModel(ref.version, ref.run_id, ref.bento_tag, pricing=pricing, info=card)


def load_reference(settings: Settings, ref: ModelRef) -> pd.DataFrame:
    """The reference sample of ``ref``: feature columns, the target, ``prediction``.

    From the local BentoML store when it has the model, otherwise from the MLflow run.
    Raises :class:`BundleNotFound` when neither has it.
    """
    directory = local_bento_dir(ref.bento_tag)
    if directory is not None and (directory / REFERENCE_FILE).is_file():
        return pd.read_parquet(directory / REFERENCE_FILE)
    with tempfile.TemporaryDirectory(prefix="housing-reference-") as tmp:
        try:
            bundle = _download_bundle(settings, ref.run_id, [REFERENCE_FILE], Path(tmp))
        except BundleNotFound:
            raise BundleNotFound(
                f"model version {ref.version} has no reference sample in the BentoML store"
                f" or in MLflow run {ref.run_id}"
            ) from None
        return pd.read_parquet(bundle / REFERENCE_FILE)


def load_card(settings: Settings, ref: ModelRef) -> dict[str, Any]:
    """The model card JSON of ``ref``: from the local BentoML store, else from the MLflow run."""
    directory = local_bento_dir(ref.bento_tag)
    if directory is not None and (directory / CARD_FILE).is_file():
        return json.loads((directory / CARD_FILE).read_text())
    with tempfile.TemporaryDirectory(prefix="housing-card-") as tmp:
        downloaded = _download_bundle(settings, ref.run_id, [CARD_FILE], Path(tmp))
        return json.loads((downloaded / CARD_FILE).read_text())


def save_card(settings: Settings, ref: ModelRef, card: dict[str, Any], page: str) -> None:
    """Replace the card of ``ref`` in both stores: the BentoML model directory (when this store
    has it) and the MLflow run's bundle artifacts, so both keep the same files."""
    import mlflow

    directory = local_bento_dir(ref.bento_tag)
    if directory is not None:
        write_card_files(directory, card, page)
    if ref.run_id:
        with tempfile.TemporaryDirectory(prefix="housing-card-") as tmp:
            write_card_files(Path(tmp), card, page)
            client = mlflow.MlflowClient(tracking_uri=settings.mlflow.tracking_uri)
            client.log_artifacts(ref.run_id, tmp, BUNDLE_ARTIFACT_DIR)


def bento_labels(ref: ModelRef) -> dict[str, str]:
    """The labels a built Bento carries to name the model it packages."""
    return {
        BENTO_LABEL_VERSION: str(ref.version),
        BENTO_LABEL_RUN: ref.run_id or "unknown",
        BENTO_LABEL_MODEL: ref.bento_tag,
    }


def packaged_model() -> ModelRef | None:
    """The model packaged in the Bento this process serves, or None outside a Bento.

    ``housing build`` labels the Bento with :func:`bento_labels`; BentoML serves a Bento from
    ``$BENTO_PATH`` (containers) or with ``<bento>/src`` as the working directory, and resolves
    the tag in the Bento's own model store.
    """
    import yaml

    candidates = [Path(os.environ["BENTO_PATH"])] if os.environ.get("BENTO_PATH") else []
    candidates.append(Path.cwd().parent)
    for directory in candidates:
        try:
            info = yaml.safe_load((directory / "bento.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        labels = info.get("labels") or {}
        version = str(labels.get(BENTO_LABEL_VERSION, ""))
        if labels.get(BENTO_LABEL_MODEL) and version.isdigit():
            run_id = str(labels.get(BENTO_LABEL_RUN, ""))
            return ModelRef(int(version), run_id, str(labels[BENTO_LABEL_MODEL]))
    return None
