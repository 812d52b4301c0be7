"""The model card of a version: written at training, refreshed by monitoring with its live
history, logged to MLflow and the BentoML store, linked from the reports' index, and readable
in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from housing import bundle, registry
from monitoring.monitor import run_monitor
from monitoring.outputs import card_directory
from monitoring.simulator import held_out_houses
from monitoring.window import resolve_window
from tests.fixtures.monitoring import log_houses, own_outputs
from tests.integration.test_monitor_report_render import RENDER_BUDGET_MS, _browser, _text
from training.train import run_training


def _mlflow_card(settings, ref: bundle.ModelRef, tmp_path: Path) -> dict:
    import mlflow.artifacts

    local = mlflow.artifacts.download_artifacts(
        run_id=ref.run_id,
        artifact_path=f"{bundle.BUNDLE_ARTIFACT_DIR}/{bundle.CARD_FILE}",
        dst_path=str(tmp_path / "mlflow-card"),
        tracking_uri=settings.mlflow.tracking_uri,
    )
    return json.loads(Path(local).read_text())


def test_card_shows_version_data_metrics_promotions_and_live_history(
    training_settings, tmp_path
) -> None:
    settings = own_outputs(training_settings, tmp_path / "state")
    run_training(settings, reason="first model")
    second = run_training(settings, force=True, reason="second model")
    ref = registry.get_version(settings, second.registration.version)
    assert registry.get_champion(settings) == ref

    log_houses(settings, held_out_houses(settings).sample(1200, random_state=3))
    result = run_monitor(settings, resolve_window(settings))
    assert result.summary.model_version == str(ref.version)

    # Refreshed in both stores with this run in its live history.
    stored = bundle.load_card(settings, ref)
    assert _mlflow_card(settings, ref, tmp_path) == stored
    assert [run["verdict"] for run in stored["live"]] == [result.summary.verdict.value]
    assert [event["version"] for event in stored["promotions"]] == [1, ref.version]
    local = bundle.local_bento_dir(ref.bento_tag)
    assert local is not None and (local / bundle.CARD_HTML_FILE).is_file()

    # The reports' index links the card of the version it judged.
    reports = settings.monitoring.reports_dir
    index = (reports / "index.html").read_text()
    link = re.search(r"href='([^']*model_card\.html)'", index)
    assert link, "the index does not link the model card"
    page = (reports / link.group(1)).resolve()
    assert page == (card_directory(reports, str(ref.version)) / bundle.CARD_HTML_FILE).resolve()

    dom = _browser(
        tmp_path, f"--virtual-time-budget={RENDER_BUDGET_MS}", "--dump-dom", page.as_uri()
    ).stdout
    text = _text(dom)
    shown_version = re.search(r'id="card-version"[^>]*>([^<]+)<', dom)
    assert shown_version and shown_version.group(1) == str(ref.version)
    assert settings.dataset.sha256 and settings.dataset.sha256 in text
    holdout = stored["holdout"]
    assert f"{holdout['rmse']:,.0f}" in text and f"{holdout['mae']:,.0f}" in text
    assert f"{holdout['r2']:.4g}" in text
    assert "first model" in text and "second model" in text  # the reasons of both promotions
    assert "median_income" in text and "ocean_proximity" in text  # features with ranges
    assert dom.count("data:image/png;base64,") == len(stored["plots"]) >= 2

    screenshot = tmp_path / "model_card.png"
    _browser(
        tmp_path,
        f"--virtual-time-budget={RENDER_BUDGET_MS}",
        "--window-size=1200,2400",
        f"--screenshot={screenshot}",
        page.as_uri(),
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB
