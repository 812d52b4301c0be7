"""The model card of one version: what it is for, the data it learned from, how good it is,
where it came from, how it became champion and how it has done in production.

The card is one JSON document (``model_card.json`` in the bundle) and its HTML rendering
(``model_card.html``). Training writes the static part (purpose, data, features with units and
ranges, CV and holdout metrics, interval coverage overall and per group, plots embedded as PNG
data URIs so the page is one self-contained file, lineage). :func:`with_history` adds what
changes afterwards -- the champion history with reasons, the gate's verdict on this version and
the version's monitor runs (live RMSE, coverage, drift share) -- and is applied when training
publishes, after each monitoring run (:func:`refresh`) and by the service on every
``GET /model/card``, so none of them shows a stale history.
"""

from __future__ import annotations

import contextlib
import html
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from housing import bundle, registry
from housing.config import Settings
from housing.store.monitor_status import version_history

logger = logging.getLogger(__name__)

PLOTS_KEY = "plots"


# ----------------------------------------------------------------------------- the document


def with_history(settings: Settings, card: dict[str, Any], engine: Engine | None) -> dict[str, Any]:
    """``card`` plus promotion history, this version's gate status and its monitor runs.

    A registry that cannot be read leaves the history out with a note instead of failing: the
    card of a serving model must open even while MLflow is down.
    """
    version = (card.get("mlflow") or {}).get("version")
    complete = dict(card)
    notes: list[str] = []
    try:
        complete["promotions"] = registry.promotion_history(settings)
        complete["status"] = registry.version_status(settings, version) if version else {}
    except Exception as exc:  # any registry failure: show the card without the history
        notes.append(f"promotion history unavailable: {exc}")
        complete.setdefault("promotions", [])
    complete["live"] = (
        version_history(engine, version, settings.monitoring.card_history_runs)
        if engine is not None and version is not None
        else []
    )
    complete["refreshed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if notes:
        complete["notes"] = notes
    return complete


def refresh(settings: Settings, ref: bundle.ModelRef, engine: Engine | None) -> dict[str, Any]:
    """Rewrite the card of ``ref`` with the current history in both stores; returns the card.

    The BentoML model directory (when this store has it) and the MLflow run's bundle artifacts
    get the same JSON and HTML.
    """
    card = with_history(settings, bundle.load_card(settings, ref), engine)
    with contextlib.suppress(Exception):  # no BentoML store here: the card names no Bento
        card["bentos"] = registry.bento_models_in_use().get(ref.bento_tag, [])
    bundle.save_card(settings, ref, card, render_html(card))
    return card


# ----------------------------------------------------------------------------- HTML

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "code{background:#f3f3f3;padding:1px 4px}h2{margin-top:1.5em}img{max-width:100%}"
)


def _text(value: Any, pattern: str = "{}") -> str:
    if value is None or value == "":
        return ""
    try:
        return html.escape(pattern.format(value))
    except (ValueError, TypeError):
        return html.escape(str(value))


def _table(element_id: str, header: list[str], rows: list[list[str]]) -> str:
    """A table; cells are already escaped HTML."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table id='{element_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any) -> str:
    """Prices to the dollar (``47,265``), ratios to four digits (``0.8286``)."""
    if not isinstance(value, int | float):
        return _text(value)
    return _text(value, "{:,.0f}" if abs(value) >= 1000 else "{:.4g}")


def _metrics_rows(card: dict[str, Any]) -> list[list[str]]:
    """One row per holdout metric, beside the cross-validation's mean +- std of it."""
    holdout, cv = card.get("holdout") or {}, card.get("cv") or {}
    rows = []
    for name, value in holdout.items():
        mean, std = cv.get(f"{name}_mean"), cv.get(f"{name}_std")
        spread = f"{_number(mean)} &plusmn; {_number(std)}" if mean is not None else ""
        rows.append([_text(name), _number(value), spread])
    return rows


def _feature_rows(card: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, spec in (card.get("features") or {}).items():
        if spec.get("categories"):
            values = ", ".join(spec["categories"])
        else:
            values = f"{_text(spec.get('min'), '{:g}')} .. {_text(spec.get('max'), '{:g}')}"
        rows.append(
            [
                f"<code>{_text(name)}</code>",
                _text(spec.get("type")),
                _text(spec.get("unit")),
                html.escape(values),
                _text(spec.get("description")),
            ]
        )
    return rows


def _coverage_rows(card: dict[str, Any]) -> list[list[str]]:
    holdout = card.get("holdout") or {}
    rows = [["all", "", _text(holdout.get("coverage"), "{:.1%}"), ""]]
    for column, groups in (card.get("conditional_coverage") or {}).items():
        for group, values in groups.items():
            rows.append(
                [
                    _text(column),
                    _text(group),
                    _text(values.get("coverage"), "{:.1%}"),
                    _text(values.get("rows")),
                ]
            )
    return rows


def _lineage_rows(card: dict[str, Any]) -> list[list[str]]:
    tracking = card.get("mlflow") or {}
    bentos = ", ".join(card.get("bentos") or []) or "none built in this store"
    return [
        ["MLflow registered model", _text(tracking.get("registered_model"))],
        ["MLflow version", _text(tracking.get("version"))],
        ["MLflow run", f"<code>{_text(tracking.get('run_id'))}</code>"],
        ["MLflow tracking URI", _text(tracking.get("tracking_uri"))],
        ["BentoML model", f"<code>{_text(card.get('bento_tag'))}</code>"],
        ["Bentos packaging it", html.escape(bentos)],
        ["git commit", f"<code>{_text(card.get('git_commit'))}</code>"],
        ["trained at (UTC)", _text(card.get("trained_at"))],
        ["why it was trained", _text(card.get("reason"))],
    ]


def _promotion_rows(card: dict[str, Any]) -> list[list[str]]:
    version = (card.get("mlflow") or {}).get("version")
    return [
        [
            ("<b>" if event["version"] == version else "")
            + _text(event["version"])
            + ("</b> (this version)" if event["version"] == version else ""),
            _text(event.get("promoted_at")),
            _text(event.get("kind", "promotion")),
            _text(event.get("reason")),
        ]
        for event in card.get("promotions") or []
    ]


def _live_rows(card: dict[str, Any]) -> list[list[str]]:
    return [
        [
            _text(run.get("finished_at")),
            _text(run.get("verdict")),
            _text(run.get("rows")),
            _text(run.get("labelled")),
            _text(run.get("rmse"), "{:,.0f}"),
            _text(run.get("coverage"), "{:.1%}"),
            _text(run.get("drift_share"), "{:.2f}"),
        ]
        for run in card.get("live") or []
    ]


def render_html(card: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (plots inline)."""
    tracking = card.get("mlflow") or {}
    dataset = card.get("dataset") or {}
    version = _text(tracking.get("version"))
    status = card.get("status") or {}
    rows = (dataset.get("train_rows") or 0) + (dataset.get("holdout_rows") or 0)
    calibration = card.get("calibration") or {}
    plots = "".join(
        f"<figure><img alt='{_text(name)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_text(name.replace('_', ' '))}</figcaption></figure>"
        for name, data in (card.get(PLOTS_KEY) or {}).items()
    )
    live = _live_rows(card)
    promotions = _promotion_rows(card)
    notes = "".join(f"<li>{_text(note)}</li>" for note in card.get("notes") or [])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Model card: {_text(tracking.get('registered_model'))} version {version}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Model card: {_text(tracking.get('registered_model'))} version "
        f"<span id='card-version'>{version}</span></h1>"
        f"<p id='card-purpose'>Predicts <code>{_text(card.get('target'))}</code> "
        f"({_text(card.get('target_unit'))}) of a house from the features below, with a "
        f"{_text(calibration.get('coverage'), '{:.0%}')} prediction interval. Profile "
        f"<b>{_text(dataset.get('name'))}</b>, estimator <b>{_text(card.get('estimator'))}</b>."
        + (
            f" Gate verdict: <b>{_text(status.get('status'))}</b>"
            f" {_text(status.get('status_reason'))}"
            if status.get("status")
            else ""
        )
        + "</p>"
        "<h2>Data</h2>"
        + _table(
            "card-data",
            ["file", "sha256", "rows", "train rows", "holdout rows", "sample weighted"],
            [
                [
                    _text(dataset.get("path")),
                    f"<code id='card-sha256'>{_text(dataset.get('sha256'))}</code>",
                    _text(rows),
                    _text(dataset.get("train_rows")),
                    _text(dataset.get("holdout_rows")),
                    _text(dataset.get("weighted")),
                ]
            ],
        )
        + _table(
            "card-features", ["feature", "type", "unit", "range", "meaning"], _feature_rows(card)
        )
        + "<h2>Accuracy</h2>"
        + _table(
            "card-metrics",
            ["metric", "holdout", "cross-validation (mean ± std)"],
            _metrics_rows(card),
        )
        + "<h2>Prediction intervals (holdout coverage)</h2>"
        + f"<p>Calibrated with the {_text(calibration.get('method'))} method on "
        f"{_text(calibration.get('scores'))}; target coverage "
        f"{_text(calibration.get('coverage'), '{:.0%}')}.</p>"
        + _table("card-coverage", ["column", "group", "coverage", "rows"], _coverage_rows(card))
        + f"<h2>Plots</h2><div id='card-plots'>{plots or '<p>none</p>'}</div>"
        + "<h2>Lineage</h2>"
        + _table("card-lineage", ["", ""], _lineage_rows(card))
        + "<h2>Promotion history</h2>"
        + (
            _table(
                "card-promotions",
                ["champion version", "since (UTC)", "change", "reason"],
                promotions,
            )
            if promotions
            else "<p id='card-promotions'>no version has been promoted yet</p>"
        )
        + "<h2>In production</h2>"
        + (
            _table(
                "card-live",
                [
                    "monitor run (UTC)",
                    "verdict",
                    "rows",
                    "labelled",
                    "live RMSE",
                    "interval coverage",
                    "drift share",
                ],
                live,
            )
            if live
            else "<p id='card-live'>no monitoring run has judged this version yet</p>"
        )
        + (f"<ul>{notes}</ul>" if notes else "")
        + f"<p>Card refreshed {_text(card.get('refreshed_at'))} UTC.</p></body></html>"
    )
