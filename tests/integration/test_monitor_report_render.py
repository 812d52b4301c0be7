"""The HTML report renders in a real browser (headless Chromium) and shows the drift table."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from monitoring.monitor import run_monitor
from monitoring.window import resolve_window
from tests.fixtures.monitoring import log_houses, own_outputs

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_BUDGET_MS = "20000"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (Debian package 'chromium')")
    pytest.skip("chromium is not installed")


def _browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _cells(row_html: str) -> list[str]:
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_report_renders_the_drift_table(champion_settings, holdout_houses, tmp_path) -> None:
    settings = own_outputs(champion_settings, tmp_path / "state")
    log_houses(settings, holdout_houses.sample(1200, random_state=11))
    result = run_monitor(settings, resolve_window(settings))
    assert result.summary.verdict == "healthy", result.summary.reasons  # a full report
    report = result.report_path
    url = report.resolve().as_uri()

    dom = _browser(tmp_path, f"--virtual-time-budget={RENDER_BUDGET_MS}", "--dump-dom", url)
    tables = re.findall(r"<table.*?</table>", dom.stdout, flags=re.S)
    drift_tables = [t for t in tables if "Drift Score" in t]
    assert drift_tables, "no rendered table with a 'Drift Score' column"
    rows = [_cells(row) for row in re.findall(r"<tr.*?</tr>", drift_tables[0], flags=re.S)]
    header, body = rows[0], rows[1:]
    assert {"Column", "Data Drift", "Stat Test", "Drift Score"} <= set(header)
    shown = {cell for row in body for cell in row}
    assert set(settings.feature_names) <= shown  # the features; the price has its own widget
    assert "prediction" not in shown
    assert any("Wasserstein" in cell for row in body for cell in row)

    screenshot = tmp_path / "report.png"
    _browser(
        tmp_path,
        f"--virtual-time-budget={RENDER_BUDGET_MS}",
        "--window-size=1400,1800",
        f"--screenshot={screenshot}",
        url,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB


def _rendered(tmp_path: Path, report: Path) -> str:
    dom = _browser(
        tmp_path, f"--virtual-time-budget={RENDER_BUDGET_MS}", "--dump-dom", report.as_uri()
    )
    return dom.stdout


def _text(dom: str) -> str:
    """What a reader sees: markup, scripts and styles removed (Evidently's data sits in one)."""
    visible = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", visible)))


def _frozen_age(houses):
    houses = houses.copy()
    houses["housing_median_age"] = 30.0
    return houses


CASES = {
    "degraded": (
        lambda h: h[h["ocean_proximity"] == "INLAND"].sample(1000, random_state=4),
        {"price_factor": 1.6},
    ),
    "drift": (lambda h: _frozen_age(h.sample(1200, random_state=5)), {"labelled_share": 0}),
    "insufficient_data": (lambda h: h.sample(4, random_state=6), {}),
}


@pytest.mark.parametrize("verdict", list(CASES))
def test_report_opens_with_the_verdict_and_never_contradicts_it(
    champion_settings, holdout_houses, tmp_path, verdict
) -> None:
    settings = own_outputs(champion_settings, tmp_path / "state")
    houses, log = CASES[verdict]
    log_houses(settings, houses(holdout_houses), **log)
    result = run_monitor(settings, resolve_window(settings))
    summary = result.summary
    assert summary.verdict == verdict, summary.reasons
    dom = _rendered(tmp_path, result.report_path.resolve())
    text = _text(dom)
    opening = re.search(r"<body[^>]*>\s*<section id=\"verdict\"", dom)
    assert opening, "the page does not open with the verdict"
    shown = re.search(r"id=\"verdict-status\"[^>]*>([^<]+)<", dom)
    assert shown and shown.group(1) == verdict
    for reason in summary.reasons:
        assert reason in text
    # Nothing below says otherwise: Evidently's own dataset-drift sentence is rewritten.
    assert "Dataset Drift is detected" not in dom
    assert "Dataset Drift is NOT detected" not in dom
    features = len(settings.feature_names)
    if verdict == "insufficient_data":
        # A short page: what is missing, and no drift figures nobody judged.
        assert "drift check: not judged" in text
        assert "Drift Score" not in text and "drift share" not in text
        return
    assert text.index(verdict) < text.index("Drift Score")  # the verdict comes first
    assert f"of {features} features" in text  # one feature count, the prediction separate
    if verdict == "degraded":
        assert "live RMSE" in text and "coverage" in text
        assert "BREACHED" in text
    else:
        assert "housing_median_age" in text and "nearly constant" in text
        assert "Share of drifted features below" in text
