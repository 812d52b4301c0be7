"""The built Bento works the way a container uses it, without a container.

Exported, imported into an empty BentoML home, run from a fresh virtual environment holding
only the Bento's own requirements, started by the Bento's own entrypoint: if a file, a package
or the model were missing from the Bento, this is where it shows.
"""

from __future__ import annotations

import json
import re
import subprocess

import httpx
import pytest

from delivery.build import git_state
from delivery.smoke import SmokeReport, run_smoke
from housing.config import Settings
from tests.fixtures.delivery import (
    EntrypointServer,
    bento_runtime,
    serve_imported_tag,
    serve_with_entrypoint,
)
from tests.fixtures.serving import FEEDBACK_TOKEN
from tests.fixtures.training import ROOT

pytestmark = pytest.mark.slow
# A Bento served from its own entrypoint or an imported archive starts slower than the project.
SMOKE_READY_TIMEOUT_S = 180.0


def smoke(settings: Settings, server: EntrypointServer) -> SmokeReport:
    """The post-deploy smoke check (``delivery.smoke``) against a served Bento."""
    return run_smoke(
        settings,
        server.url,
        server.grpc_target,
        FEEDBACK_TOKEN,
        ready_timeout_s=SMOKE_READY_TIMEOUT_S,
    )


def test_bento_tag_and_labels_name_the_model_and_commit(champion_settings, built_bento) -> None:
    import bentoml

    from housing.registry import get_champion

    champion = get_champion(champion_settings)
    bento = bentoml.bentos.get(built_bento)
    git = git_state(champion_settings.root)
    assert built_bento.startswith(
        f"{champion_settings.bentoml.bento_name}:m{champion.version}-g{git.commit[:8]}"
    )
    assert bento.info.labels["model_version"] == str(champion.version)
    assert bento.info.labels["git_commit"] == git.commit
    assert bento.info.labels["mlflow_run_id"] == champion.run_id
    assert [str(model.tag) for model in bento.info.models] == [champion.bento_tag]


def test_building_again_never_reuses_a_tag_for_other_content(champion_settings, built_bento):
    from delivery.build import build_bento

    again = build_bento(champion_settings)
    if git_state(champion_settings.root).dirty:
        assert again != built_bento  # uncommitted code: a new, unique tag
    else:
        assert again == built_bento  # same commit and model: the same Bento, reused


def test_bento_serves_from_its_own_entrypoint_and_requirements(
    champion_settings, built_bento, tmp_path
) -> None:
    runtime = bento_runtime(built_bento, tmp_path)
    src = runtime.bento_dir / "src"
    shipped = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()}
    assert {"service.py", "configuration.yaml", "serving/core.py", "housing/pricing.py"} <= shipped
    assert not any(name.startswith(("tests/", "var/", "data/")) for name in shipped)
    # No CLI, test/benchmark support or training code: the service imports none of it.
    assert not any(
        name.startswith(("cli/", "support/", "benchmarks/", "training/")) for name in shipped
    )
    # Only the project root's entry point and configuration, whatever else lies in the tree.
    top_level = {"service.py", "configuration.yaml", "bentofile.yaml"}
    assert all(name in top_level or name.startswith(("housing/", "serving/")) for name in shipped)
    freeze = subprocess.run(
        [str(runtime.python), "-c", "import bentoml, sklearn; print(bentoml.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert freeze == "1.4.40"
    # Lean: the serving dependencies only (no monitoring stack, no MLflow server), no compilers.
    absent = subprocess.run(
        [str(runtime.python), "-c", "import importlib.util as u; "
         "print([m for m in ('evidently', 'flask', 'pyarrow', 'apscheduler') if u.find_spec(m)])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert absent == "[]"
    for recipe in ("env/docker/Dockerfile", "bento.yaml"):  # containerize reads bento.yaml
        assert "build-essential" not in (runtime.bento_dir / recipe).read_text()

    with serve_with_entrypoint(runtime, FEEDBACK_TOKEN, tmp_path) as server:
        report = smoke(champion_settings, server)
        model = httpx.get(f"{server.url}/model", timeout=30).json()
        exposed = httpx.get(f"{server.url}/metrics", timeout=30).text
    assert report.model_version == runtime.info["labels"]["model_version"]
    assert model["bento_tag"] == runtime.info["labels"]["bento_model"]
    assert len(report.checks) == 5

    # Every series the Grafana dashboard plots is exposed by the running Bento. Only the verdict
    # gauge has no sample before the first monitor run (it is labelled by verdict).
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/housing.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    plotted = {m for e in exprs for m in re.findall(r"\b((?:bentoml|housing)_[a-z_]+)", e)}
    missing = {m for m in plotted if not re.search(rf"^{m}[{{ ]", exposed, re.M)}
    # Labelled counters (verdict, write errors by kind) have no sample before their first event.
    assert missing <= {"housing_monitor_verdict", "housing_log_write_errors_total"}, missing

    # The same archive, imported into an empty BentoML home, served by tag from a folder that
    # is not the project (no configuration.yaml, no var/, nothing to import by accident).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serve_imported_tag(runtime, built_bento, FEEDBACK_TOKEN, elsewhere) as server:
        report = smoke(champion_settings, server)
    assert report.model_version == runtime.info["labels"]["model_version"]
    assert [line.split(":")[0] for line in report.checks[1:]] == [
        "HTTP predict",
        "HTTP feedback",
        "gRPC health SERVING; GetModel version " + report.model_version,
        "/metrics has bentoml_service_request, housing_predictions_total, housing_batch_size",
    ]
