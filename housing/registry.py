"""Which model is in production: the champion alias, its history, and every registered version.

The MLflow registered model and its ``champion`` alias are the source of truth for *which*
version serves; :mod:`housing.bundle` knows what a version's files are and loads them. Each
registered version names its BentoML tag and each BentoML model names its MLflow version and
run (see :mod:`housing.bundle`), so either side leads to the other.

``bentoml`` and ``mlflow`` are imported lazily: importing this module must not freeze
``BENTOML_HOME`` before :func:`housing.runtime.prepare_process` ran.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from housing.bundle import (
    LABEL_STAGE,
    TAG_BENTO,
    BundleNotFound,
    ModelRef,
    local_bento_dir,
)
from housing.bundle import load_reference as load_bundle_reference
from housing.config import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

# Registered-model tag holding the champion stack (comma separated versions, oldest first):
# what `rollback` returns to, so a rollback pops it.
TAG_HISTORY = "champion_history"
_HISTORY_KEEP = 200
# One registered-model tag per champion change (promotion or rollback), never rewritten:
# ``champion_event.<UTC time to the microsecond>`` -> JSON {version, promoted_at, kind, reason}.
# The version tags ``promoted_at``/``promotion_reason`` keep only the latest promotion of a
# version; these keep every one (the newest _HISTORY_KEEP), so a version promoted twice shows both.
EVENT_PREFIX = "champion_event."
EVENT_PROMOTION = "promotion"
EVENT_ROLLBACK = "rollback"
_REASON_CHARS = 5000

# Model-version tags of the gate's verdict: a challenger that was not promoted is "rejected",
# with the reason; `housing models` hides rejected versions unless asked (--all).
TAG_STATUS = "status"
TAG_STATUS_REASON = "status_reason"
STATUS_REJECTED = "rejected"
STATUS_PROMOTED = "promoted"

STAGE_CHAMPION = "champion"
STAGE_CHALLENGER = "challenger"
STAGE_RETIRED = "retired"


class RegistryError(RuntimeError):
    """The registry cannot do what was asked; the message says why in one line."""


class UnknownVersion(RegistryError):  # noqa: N818 - the name the callers know
    """A model version that is not registered."""


class NothingToRollBack(RegistryError):  # noqa: N818 - reads as the situation
    """There is no earlier champion (or no champion at all) to return to."""


class ReferenceNotFound(RegistryError):  # noqa: N818 - the name the callers know
    """A model version without a stored reference sample (neither BentoML nor MLflow)."""


@dataclass(frozen=True)
class VersionSummary(ModelRef):
    """One line of ``housing models``."""

    aliases: tuple[str, ...]
    stage: str
    metrics: dict[str, float]
    created_at: datetime
    reason: str
    in_local_store: bool
    status: str = ""
    status_reason: str = ""


# ----------------------------------------------------------------------------- MLflow access


def client(settings: Settings) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow.tracking_uri)


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


def _ref_of(version: Any) -> ModelRef:
    return ModelRef(
        version=int(version.version),
        run_id=str(version.run_id or ""),
        bento_tag=str((version.tags or {}).get(TAG_BENTO, "")),
    )


def _by_alias(settings: Settings, alias: str) -> ModelRef | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client(settings).get_model_version_by_alias(
            settings.mlflow.registered_model, alias
        )
    except MlflowException as exc:
        if _is_missing(exc):
            return None
        raise RegistryError(f"cannot read the model registry: {exc.message}") from exc
    return _ref_of(version)


def get_champion(settings: Settings) -> ModelRef | None:
    """The version behind the champion alias, or None before the first promotion.

    Cheap (one registry query), so a server may poll it to notice promote/rollback.
    """
    return _by_alias(settings, settings.mlflow.champion_alias)


def get_shadow(settings: Settings) -> ModelRef | None:
    """The version behind the shadow alias (scored beside the champion), or None."""
    return _by_alias(settings, settings.mlflow.shadow_alias)


def set_shadow(settings: Settings, version: int | str) -> ModelRef:
    """Point the shadow alias at ``version``; every worker scores it from its next poll."""
    target = get_version(settings, version)
    client(settings).set_registered_model_alias(
        settings.mlflow.registered_model, settings.mlflow.shadow_alias, str(target.version)
    )
    return target


def clear_shadow(settings: Settings) -> ModelRef | None:
    """Remove the shadow alias; returns the version it named (None if there was none)."""
    current = get_shadow(settings)
    if current is not None:
        client(settings).delete_registered_model_alias(
            settings.mlflow.registered_model, settings.mlflow.shadow_alias
        )
    return current


def get_version(settings: Settings, version: int | str) -> ModelRef:
    """A registered version by number; :class:`UnknownVersion` if there is no such version."""
    from mlflow.exceptions import MlflowException

    name = settings.mlflow.registered_model
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise UnknownVersion(f"'{version}' is not a model version number") from None
    try:
        return _ref_of(client(settings).get_model_version(name, str(number)))
    except MlflowException as exc:
        if _is_missing(exc):
            raise UnknownVersion(
                f"model version {number} of '{name}' does not exist (see `housing models`)"
            ) from None
        raise RegistryError(f"cannot read the model registry: {exc.message}") from exc


# ----------------------------------------------------------------------------- references


def load_reference(settings: Settings, version: int | str) -> pd.DataFrame:
    """The reference sample of a registered version (see :func:`housing.bundle.load_reference`).

    Raises :class:`ReferenceNotFound` when the version is unknown or has no reference.
    """
    try:
        ref = get_version(settings, version)
        return load_bundle_reference(settings, ref)
    except (UnknownVersion, BundleNotFound) as exc:
        raise ReferenceNotFound(str(exc)) from None


# ----------------------------------------------------------------------------- stages


def _set_bento_stage(tag: str, stage: str) -> None:
    """Mirror the stage on the BentoML model so `bentoml models list` shows the champion."""
    if not tag or local_bento_dir(tag) is None:
        return
    import bentoml

    model = bentoml.models.get(tag)
    model.info.labels[LABEL_STAGE] = stage
    model.flush()


def _history(settings: Settings) -> list[int]:
    registered = client(settings).get_registered_model(settings.mlflow.registered_model)
    text = (registered.tags or {}).get(TAG_HISTORY, "")
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def _save_history(settings: Settings, history: list[int]) -> None:
    client(settings).set_registered_model_tag(
        settings.mlflow.registered_model,
        TAG_HISTORY,
        ",".join(str(v) for v in history[-_HISTORY_KEEP:]),
    )


def _record_event(settings: Settings, at: datetime, version: int, kind: str, reason: str) -> None:
    """Add one champion change to the registered model's event tags; drop the oldest beyond
    _HISTORY_KEEP."""
    mlflow_client = client(settings)
    name = settings.mlflow.registered_model
    event = {
        "version": version,
        "promoted_at": at.isoformat(timespec="seconds"),
        "kind": kind,
        "reason": reason[:_REASON_CHARS],
    }
    key = f"{EVENT_PREFIX}{at:%Y%m%dT%H%M%S%fZ}"
    mlflow_client.set_registered_model_tag(name, key, json.dumps(event))
    keys = sorted(_event_tags(settings))
    for old in keys[: max(len(keys) - _HISTORY_KEEP, 0)]:
        mlflow_client.delete_registered_model_tag(name, old)


def _event_tags(settings: Settings) -> dict[str, str]:
    registered = client(settings).get_registered_model(settings.mlflow.registered_model)
    return {k: v for k, v in (registered.tags or {}).items() if k.startswith(EVENT_PREFIX)}


def _make_champion(
    settings: Settings, target: ModelRef, previous: ModelRef | None, reason: str, kind: str
) -> None:
    mlflow_client = client(settings)
    name = settings.mlflow.registered_model
    mlflow_client.set_registered_model_alias(
        name, settings.mlflow.champion_alias, str(target.version)
    )
    at = datetime.now(UTC)
    now = at.isoformat(timespec="seconds")
    mlflow_client.set_model_version_tag(name, str(target.version), "promoted_at", now)
    mlflow_client.set_model_version_tag(name, str(target.version), "promotion_reason", reason)
    _record_event(settings, at, target.version, kind, reason)
    mlflow_client.set_model_version_tag(name, str(target.version), TAG_STATUS, STATUS_PROMOTED)
    if previous is not None and previous.version != target.version:
        _set_bento_stage(previous.bento_tag, STAGE_RETIRED)
    _set_bento_stage(target.bento_tag, STAGE_CHAMPION)


def promote(settings: Settings, version: int | str, reason: str) -> ModelRef:
    """Make ``version`` the champion (alias + BentoML label) and record why in MLflow."""
    target = get_version(settings, version)
    previous = get_champion(settings)
    _make_champion(settings, target, previous, reason, EVENT_PROMOTION)
    history = _history(settings)
    if not history or history[-1] != target.version:
        history.append(target.version)
    _save_history(settings, history)
    return target


def rollback(settings: Settings) -> ModelRef:
    """Give the champion alias back to the champion before the current one."""
    current = get_champion(settings)
    if current is None:
        raise NothingToRollBack("there is no champion to roll back from")
    history = _history(settings)
    while history and history[-1] == current.version:
        history.pop()
    while history:
        try:
            target = get_version(settings, history[-1])
            break
        except UnknownVersion:
            history.pop()
    else:
        raise NothingToRollBack(
            f"version {current.version} is the only champion so far; nothing to roll back to"
        )
    _make_champion(
        settings, target, current, f"rollback from version {current.version}", EVENT_ROLLBACK
    )
    _save_history(settings, history)
    return target


def list_versions(settings: Settings) -> list[VersionSummary]:
    """All registered versions, newest first, with metrics, aliases and BentoML links."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    name = settings.mlflow.registered_model
    try:
        registered = mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if _is_missing(exc):
            return []
        raise RegistryError(f"cannot read the model registry: {exc.message}") from exc
    aliases: dict[int, list[str]] = {}
    for alias, number in (registered.aliases or {}).items():
        aliases.setdefault(int(number), []).append(alias)
    history = set(_history(settings))
    summaries = []
    for version in mlflow_client.search_model_versions(f"name = '{name}'"):
        ref = _ref_of(version)
        run = mlflow_client.get_run(ref.run_id) if ref.run_id else None
        metrics = dict(run.data.metrics) if run else {}
        own_aliases = tuple(sorted(aliases.get(ref.version, [])))
        if settings.mlflow.champion_alias in own_aliases:
            stage = STAGE_CHAMPION
        elif ref.version in history:
            stage = STAGE_RETIRED
        else:
            stage = STAGE_CHALLENGER
        summaries.append(
            VersionSummary(
                version=ref.version,
                run_id=ref.run_id,
                bento_tag=ref.bento_tag,
                aliases=own_aliases,
                stage=stage,
                metrics=metrics,
                created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
                reason=(run.data.tags.get("reason", "") if run else ""),
                in_local_store=local_bento_dir(ref.bento_tag) is not None,
                status=str((version.tags or {}).get(TAG_STATUS, "")),
                status_reason=str((version.tags or {}).get(TAG_STATUS_REASON, "")),
            )
        )
    return sorted(summaries, key=lambda s: s.version, reverse=True)


def reject(settings: Settings, version: int, reason: str) -> None:
    """Mark a challenger the gate did not promote: ``status=rejected`` plus the reason."""
    mlflow_client = client(settings)
    name = settings.mlflow.registered_model
    mlflow_client.set_model_version_tag(name, str(version), TAG_STATUS, STATUS_REJECTED)
    mlflow_client.set_model_version_tag(name, str(version), TAG_STATUS_REASON, reason[:5000])


def promotion_history(settings: Settings) -> list[dict[str, Any]]:
    """Every champion change so far, oldest first: version, when, ``promotion`` or ``rollback``
    and why -- a version promoted twice (or rolled back to) appears once per time.

    Read from the registered model's event tags (see ``EVENT_PREFIX``). A champion of a
    registry written before those tags existed appears once, from its version's
    ``promoted_at``/``promotion_reason`` tags (its latest promotion). Empty before the first
    promotion.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    name = settings.mlflow.registered_model
    try:
        history = _history(settings)
        tags = _event_tags(settings)
    except MlflowException as exc:
        if _is_missing(exc):
            return []
        raise RegistryError(f"cannot read the model registry: {exc.message}") from exc
    events = [json.loads(tags[key]) for key in sorted(tags)]
    recorded = {event["version"] for event in events}
    earlier = []
    for number in dict.fromkeys(history):  # champions from before the event tags
        if number in recorded:
            continue
        try:
            version_tags = mlflow_client.get_model_version(name, str(number)).tags or {}
        except MlflowException:  # pruned since: the history still names it
            version_tags = {}
        earlier.append(
            {
                "version": number,
                "promoted_at": version_tags.get("promoted_at", ""),
                "kind": EVENT_PROMOTION,
                "reason": version_tags.get("promotion_reason", ""),
            }
        )
    return sorted(earlier, key=lambda event: event["promoted_at"]) + events


def version_status(settings: Settings, version: int | str) -> dict[str, str]:
    """The gate's verdict on one version (``status``, ``status_reason``), empty if none."""
    tags = client(settings).get_model_version(settings.mlflow.registered_model, str(version)).tags
    return {key: str((tags or {}).get(key, "")) for key in (TAG_STATUS, TAG_STATUS_REASON)}


# ----------------------------------------------------------------------------- pruning


@dataclass(frozen=True)
class PrunePlan:
    """What ``housing prune`` removes and keeps, each kept version with why."""

    remove: list[VersionSummary]
    keep: dict[int, str]


def previous_champion(settings: Settings) -> int | None:
    """The version a rollback would return to (the champion before the current one)."""
    current = get_champion(settings)
    history = _history(settings)
    earlier = [v for v in history if current is None or v != current.version]
    return earlier[-1] if earlier else None


def bento_models_in_use() -> dict[str, list[str]]:
    """BentoML model tag -> tags of the Bentos in the local store that package it."""
    import bentoml

    used: dict[str, list[str]] = {}
    for bento in bentoml.list():
        for model in bento.info.all_models:
            used.setdefault(str(model.tag), []).append(str(bento.tag))
    return used


def plan_prune(settings: Settings, keep: int) -> PrunePlan:
    """Keep the ``keep`` newest versions, the champion, the previous champion and every version
    whose BentoML model a Bento still packages; everything else is removed."""
    versions = list_versions(settings)
    champion = get_champion(settings)
    previous = previous_champion(settings)
    in_bentos = bento_models_in_use()
    kept: dict[int, str] = {}
    for position, item in enumerate(versions):  # newest first
        if champion is not None and item.version == champion.version:
            kept[item.version] = "champion"
        elif item.version == previous:
            kept[item.version] = "previous champion (rollback target)"
        elif position < keep:
            kept[item.version] = f"one of the {keep} newest"
        elif item.bento_tag in in_bentos:
            kept[item.version] = "packaged in Bento " + ", ".join(in_bentos[item.bento_tag])
    return PrunePlan(remove=[v for v in versions if v.version not in kept], keep=kept)


def prune(settings: Settings, plan: PrunePlan) -> None:
    """Delete the planned versions from the MLflow registry and their BentoML models."""
    import bentoml
    from bentoml.exceptions import NotFound

    mlflow_client = client(settings)
    for item in plan.remove:
        mlflow_client.delete_model_version(settings.mlflow.registered_model, str(item.version))
        if item.bento_tag and local_bento_dir(item.bento_tag) is not None:
            with contextlib.suppress(NotFound):  # removed meanwhile by someone else
                bentoml.models.delete(item.bento_tag)
