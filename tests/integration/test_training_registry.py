"""Training into a real MLflow (SQLite) registry and a real BentoML store, and what users see."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

from housing import bundle, registry
from housing.config import Settings
from training.data import load_training_data
from training.train import run_training


def test_champion_fixture_links_mlflow_and_bentoml(champion_settings: Settings) -> None:
    import bentoml

    champion = registry.get_champion(champion_settings)
    assert champion is not None and champion.version == 1
    labels = bentoml.models.get(champion.bento_tag).info.labels
    assert labels[bundle.LABEL_VERSION] == "1"
    assert labels[bundle.LABEL_RUN] == champion.run_id
    assert labels[bundle.LABEL_STAGE] == registry.STAGE_CHAMPION
    client = registry.client(champion_settings)
    run = client.get_run(champion.run_id)
    assert run.data.tags[bundle.TAG_BENTO] == champion.bento_tag
    version = client.get_model_version(champion_settings.mlflow.registered_model, "1")
    assert version.tags[bundle.TAG_BENTO] == champion.bento_tag
    artifacts = {item.path for item in client.list_artifacts(champion.run_id, "plots")}
    assert artifacts == {"plots/predicted_vs_actual.png", "plots/residuals.png"}


def test_loaded_champion_prices_raw_records_with_interval(champion_settings: Settings) -> None:
    champion = registry.get_champion(champion_settings)
    loaded = bundle.load_model(champion_settings, champion)
    assert loaded.version == 1 and loaded.bento_tag == champion.bento_tag
    assert set(loaded.info["holdout"]) >= {"rmse", "mae", "r2", "mape", "coverage"}
    assert loaded.info["trained_at"].startswith("20")
    data = load_training_data(champion_settings).frame.head(50)
    estimates = loaded.pricing.predict(data)
    assert np.all(estimates.low < estimates.price) and np.all(estimates.price < estimates.high)
    # A missing bedroom count and an unknown category still get a price, not an exception.
    odd = data.head(2).copy()
    odd["total_bedrooms"] = np.nan
    odd["ocean_proximity"] = "ON THE MOON"
    assert np.all(np.isfinite(loaded.pricing.predict(odd).price))


def test_reference_sample_has_features_target_and_prediction(champion_settings: Settings) -> None:
    reference = registry.load_reference(champion_settings, 1)
    expected = {*champion_settings.feature_names, champion_settings.dataset.target, "prediction"}
    assert expected <= set(reference.columns)
    # Drawn from the holdout, the only rows the served model (fitted on all training rows) never
    # saw: the configured size, or the whole holdout when it is smaller.
    rows = len(load_training_data(champion_settings).frame)
    holdout_rows = round(rows * champion_settings.split.holdout_fraction)
    assert len(reference) == min(champion_settings.monitoring.reference_rows, holdout_rows)
    with pytest.raises(registry.ReferenceNotFound):
        registry.load_reference(champion_settings, 99)


def test_model_and_reference_load_from_mlflow_without_local_store(
    champion_settings: Settings,
) -> None:
    champion = registry.get_champion(champion_settings)
    elsewhere = bundle.ModelRef(champion.version, champion.run_id, "housing_price:notlocal")
    remote = bundle.load_model(champion_settings, elsewhere)
    local = bundle.load_model(champion_settings, champion)
    rows = registry.load_reference(champion_settings, 1).head(20)
    np.testing.assert_array_equal(
        remote.pricing.predict(rows).price, local.pricing.predict(rows).price
    )
    assert remote.info["bento_tag"] == champion.bento_tag


def test_retraining_same_data_is_reproducible_and_not_promoted(
    training_settings: Settings,
) -> None:
    first = run_training(training_settings, reason="first")
    second = run_training(training_settings, reason="second")
    assert first.decision.promote
    assert not second.decision.promote
    assert "not better" in second.decision.reason
    for name in ("holdout_rmse", "holdout_mae", "holdout_coverage", "cv_rmse_mean"):
        assert first.trained.metrics[name] == second.trained.metrics[name]
    holdout = first.trained.holdout
    np.testing.assert_array_equal(
        first.trained.pricing.predict(holdout).price, second.trained.pricing.predict(holdout).price
    )
    versions = registry.list_versions(training_settings)
    assert [v.version for v in versions] == [2, 1]
    assert [v.stage for v in versions] == [registry.STAGE_CHALLENGER, registry.STAGE_CHAMPION]
    assert registry.get_champion(training_settings).version == 1


def test_promote_and_rollback_move_the_champion(training_settings: Settings) -> None:
    import bentoml

    run_training(training_settings)
    run_training(training_settings, force=True, reason="forced")
    client = registry.client(training_settings)
    forced_run = client.get_run(registry.get_version(training_settings, 2).run_id)
    assert forced_run.data.tags["forced"] == "true"
    assert registry.get_champion(training_settings).version == 2

    back = registry.rollback(training_settings)
    assert back.version == 1
    assert registry.get_champion(training_settings).version == 1
    tags = {v.version: v.bento_tag for v in registry.list_versions(training_settings)}
    assert bentoml.models.get(tags[1]).info.labels["stage"] == registry.STAGE_CHAMPION
    assert bentoml.models.get(tags[2]).info.labels["stage"] == registry.STAGE_RETIRED
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        registry.rollback(training_settings)

    registry.promote(training_settings, 2, "manual")
    assert registry.get_champion(training_settings).version == 2
    with pytest.raises(registry.UnknownVersion, match="7"):
        registry.promote(training_settings, 7, "no such version")
    assert registry.get_champion(training_settings).version == 2


def test_sample_weights_change_the_model(training_settings: Settings) -> None:
    from training.pipeline import split_holdout
    from training.train import train_model

    data = load_training_data(training_settings)
    train, holdout = split_holdout(data.frame, training_settings)
    weights = np.where(train["ocean_proximity"] == "INLAND", 5.0, 1.0)
    plain = train_model(training_settings, train, holdout, data_sha256=data.sha256)
    weighted = train_model(
        training_settings, train, holdout, data_sha256=data.sha256, sample_weight=weights
    )
    assert weighted.card["dataset"]["weighted"] is True
    assert not np.array_equal(
        plain.pricing.predict(holdout).price, weighted.pricing.predict(holdout).price
    )
    assert isinstance(plain.reference, pd.DataFrame)


def _register_versions(settings: Settings, tmp_path, count: int) -> None:
    """Registered versions without training: the history only needs the registry."""
    from mlflow.exceptions import MlflowException

    client = registry.client(settings)
    name = settings.mlflow.registered_model
    with contextlib.suppress(MlflowException):  # the template registry may already have it
        client.create_registered_model(name)
    for number in range(count):
        source = tmp_path / f"model-{number}"
        source.mkdir()
        client.create_model_version(name, source.as_uri())


def test_history_lists_every_promotion_and_rollback_of_a_version(
    training_settings: Settings, tmp_path
) -> None:
    from housing import model_card

    _register_versions(training_settings, tmp_path, 2)
    registry.promote(training_settings, 1, "first: the only model")
    registry.promote(training_settings, 2, "second: lower RMSE")
    registry.promote(training_settings, 1, "back to one: two failed on new houses")
    registry.promote(training_settings, 2, "two again: retrained")
    registry.rollback(training_settings)

    history = registry.promotion_history(training_settings)
    assert [(e["version"], e["kind"], e["reason"]) for e in history] == [
        (1, "promotion", "first: the only model"),
        (2, "promotion", "second: lower RMSE"),
        (1, "promotion", "back to one: two failed on new houses"),
        (2, "promotion", "two again: retrained"),
        (1, "rollback", "rollback from version 2"),
    ]
    times = [event["promoted_at"] for event in history]
    assert times == sorted(times) and all(t.startswith("20") for t in times)

    # The card of version 1 shows each of its three champion changes with its reason.
    card = model_card.with_history(
        training_settings, {"mlflow": {"version": 1, "registered_model": "m"}}, engine=None
    )
    page = model_card.render_html(card)
    for reason in ("first: the only model", "back to one: two failed", "rollback from version 2"):
        assert reason in page
    assert page.count("(this version)") == 3
