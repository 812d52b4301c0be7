"""A tidy registry: rejected challengers are marked and hidden; pruning never loses a rollback.

Four small models are trained into one real MLflow registry and BentoML store: v1 (first
champion), v2 (forced champion, so v1 becomes the previous champion), v3 and v4 (same data and
configuration, so not better: the gate rejects them). Then ``housing models`` and
``housing prune`` run as users run them; a real ``bentoml build`` packages one of the rejected
versions, which pruning must then keep and name.
"""

from __future__ import annotations

import bentoml
import pytest

from delivery.build import build_bento
from housing import registry
from housing.config import Settings
from tests.fixtures.training import env_of
from tests.integration.test_training_cli import housing
from training.train import run_training


@pytest.fixture
def four_versions(training_settings: Settings) -> Settings:
    assert run_training(training_settings, reason="first").decision.promote
    assert run_training(training_settings, reason="forced", force=True).decision.promote
    for reason in ("same again", "and again"):
        assert not run_training(training_settings, reason=reason).decision.promote
    return training_settings


def test_rejected_challengers_are_hidden_and_prune_keeps_the_rollback(
    four_versions: Settings,
) -> None:
    versions = {v.version: v for v in registry.list_versions(four_versions)}
    assert versions[3].status == registry.STATUS_REJECTED
    assert "not better" in versions[3].status_reason or "champion" in versions[3].status_reason
    assert versions[2].status == registry.STATUS_PROMOTED
    env = env_of(four_versions)
    listed = housing("models", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("│")[1].strip() for line in listed.stdout.splitlines() if "│" in line]
    assert "3" not in rows and "4" not in rows and {"1", "2"} <= set(rows)
    assert "2 rejected challengers hidden" in listed.stdout
    everything = housing("models", "--all", env=env)
    rows = [line.split("│")[1].strip() for line in everything.stdout.splitlines() if "│" in line]
    assert {"1", "2", "3", "4"} <= set(rows)
    shown = housing("models", "2", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "ocean_proximity" in shown.stdout and "median_income" in shown.stdout

    before = {v.version: v.bento_tag for v in versions.values()}
    planned = housing("prune", "--keep", "0", "--dry-run", env=env)
    assert planned.returncode == 0, planned.stderr
    assert "would remove: 4, 3" in planned.stdout
    assert len(registry.list_versions(four_versions)) == 4

    bento = build_bento(four_versions, registry.get_version(four_versions, 3))
    packaged = housing("prune", "--keep", "0", "--dry-run", env=env)
    assert packaged.returncode == 0, packaged.stderr
    assert f"keep version 3: packaged in Bento {bento}" in packaged.stdout
    assert "would remove: 4" in packaged.stdout and "would remove: 4, 3" not in packaged.stdout
    bentoml.bentos.delete(bento)  # the Bento is gone: version 3 is no longer in use

    pruned = housing("prune", "--keep", "0", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert "keep version 2: champion" in pruned.stdout
    assert "keep version 1: previous champion" in pruned.stdout
    assert {v.version for v in registry.list_versions(four_versions)} == {1, 2}
    assert registry.get_champion(four_versions).version == 2
    for number in (3, 4):
        with pytest.raises(bentoml.exceptions.NotFound):
            bentoml.models.get(before[number])
    assert registry.rollback(four_versions).version == 1  # the rollback target survived
