"""Files a run leaves behind: ``<reports_dir>/<run>/report.html`` + ``summary.json``, and an
``index.html`` listing every run with its verdict, so history is one click away without a server.

Every report opens with the project's verdict, its reasons and the figures that decided it
(each judged value with its interval against its limit), then Evidently's sections. Evidently's
own "Dataset Drift is (NOT) detected" line is rewritten to say what it is -- the share rule
alone -- so the page never contradicts the verdict. A run whose verdict is
``insufficient_data`` gets a short page that says what is missing, without figures nobody
judged.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from housing.bundle import CARD_HTML_FILE
from housing.run_summary import Check, RunSummary, Status

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"
INDEX_NAME = "index.html"
CARDS_DIR = "model_cards"  # <reports_dir>/model_cards/v<N>/model_card.html, linked from the index

_VERDICT_COLOURS = {
    Status.HEALTHY: "#1b7f3b",
    Status.DRIFT: "#b35c00",
    Status.DEGRADED: "#b00020",
    Status.INSUFFICIENT_DATA: "#555",
}
_STYLE = (
    "#verdict{font-family:sans-serif;margin:1.5em 2em;padding:1em 1.5em;border:3px solid}"
    "#verdict table{border-collapse:collapse;margin-top:.5em}"
    "#verdict td,#verdict th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
)
_EVIDENTLY_SHARE_LINE = re.compile(
    r"Dataset Drift is (NOT )?detected\. Dataset drift detection threshold is ([0-9.]+)"
)


def run_directory(reports_dir: Path, summary: RunSummary) -> Path:
    return reports_dir / f"{summary.finished_at:%Y%m%dT%H%M%S}_{summary.short_id}"


def write_run(reports_dir: Path, summary: RunSummary, snapshot: Any | None) -> tuple[Path, Path]:
    """Write the HTML report and JSON summary of one run, then refresh the index."""
    directory = run_directory(reports_dir, summary)
    directory.mkdir(parents=True, exist_ok=True)
    report = directory / REPORT_NAME
    if snapshot is None or summary.verdict is Status.INSUFFICIENT_DATA:
        report.write_text(short_page(summary), encoding="utf-8")
    else:
        snapshot.save_html(str(report))
        report.write_text(with_verdict(report.read_text(encoding="utf-8"), summary), "utf-8")
    summary_path = directory / SUMMARY_NAME
    summary_path.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    write_index(reports_dir)
    return report, summary_path


def _check_rows(checks: list[Check]) -> str:
    rows = []
    for check in checks:
        interval = (
            f"{check.low:.4g} .. {check.high:.4g}"
            if check.low is not None and check.high is not None
            else ""
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(check.name)}</td><td>{_cell(check.value, '{:.4g}')}</td>"
            f"<td>{html.escape(interval)}</td><td>{check.limit:.4g}</td>"
            f"<td>{'BREACHED' if check.breached else 'ok'}</td></tr>"
        )
    return "".join(rows)


def verdict_section(summary: RunSummary) -> str:
    """The block every report opens with: verdict, reasons, deciding figures vs limits."""
    colour = _VERDICT_COLOURS[summary.verdict]
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in summary.reasons)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in summary.notes)
    drift, performance = summary.drift, summary.performance
    facts = [
        f"window: {summary.window.description}; model version {summary.model_version}",
        f"{summary.rows.analysed} rows analysed, {summary.labelled} with a true price",
    ]
    if drift.judged:
        facts.append(
            f"drift share {drift.share:.2f} ({len(drift.drifted_features)} of "
            f"{drift.features_compared} features; the predicted price is checked separately) "
            f"against {drift.share_threshold:.2f} -- drift check: {drift.status.value}"
        )
    else:
        facts.append("drift check: not judged")
    if performance.checks:  # judged, or measured on fewer labels than `healthy` needs
        facts.append(
            f"live RMSE {_cell(performance.rmse, '{:,.0f}')} vs reference (holdout) RMSE "
            f"{_cell(performance.reference_rmse, '{:,.0f}')}; coverage "
            f"{_cell(performance.coverage, '{:.1%}')} vs reference "
            f"{_cell(performance.reference_coverage, '{:.1%}')} -- performance check: "
            f"{performance.status.value}"
        )
    else:
        facts.append("performance check: not judged")
    facts.append(refusal_fact(summary))
    refusal = summary.refusals.check if summary.refusals is not None else None
    checks = [
        *performance.checks,
        *[c for c in drift.column_checks if c.breached],
        *([refusal] if refusal is not None else []),
    ]
    table = (
        "<table><thead><tr><th>judged figure</th><th>value</th><th>interval</th>"
        f"<th>limit</th><th>outcome</th></tr></thead><tbody>{_check_rows(checks)}</tbody></table>"
        if checks
        else ""
    )
    return (
        f"<section id='verdict' style='border-color:{colour}'>"
        f"<h1 style='color:{colour}'>Verdict: <span id='verdict-status'>"
        f"{html.escape(summary.verdict.value)}</span> (exit code {summary.exit_code})</h1>"
        f"<ul id='verdict-reasons'>{reasons}</ul>"
        f"<ul>{''.join(f'<li>{html.escape(f)}</li>' for f in facts)}</ul>{table}"
        + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")
        + shadow_section(summary)
        + f"<p>Run {html.escape(summary.run_id)}, finished {summary.finished_at:%Y-%m-%d %H:%M:%S} "
        "UTC. Evidently's sections follow; they show measurements, the verdict above is the "
        "project's.</p></section>"
    )


def refusal_fact(summary: RunSummary) -> str:
    """The records refused by validation in the window: share, limit, the reasons."""
    refusals = summary.refusals
    if refusals is None:
        return "records refused by validation: not measured"
    sent = refusals.refused + refusals.logged
    if refusals.check is None:
        return (
            f"records refused by validation: {refusals.refused} of {sent} sent -- "
            "too few records to judge"
        )
    check = refusals.check
    reasons = ", ".join(f"{r.field or '-'} ({r.kind}): {r.records}" for r in refusals.reasons)
    return (
        f"records refused by validation: {refusals.refused} of {sent} sent "
        f"(share {check.value:.1%} against {check.limit:.0%}"
        + (f"; {reasons}" if reasons else "")
        + f") -- {'BREACHED' if check.breached else 'ok'}"
    )


def shadow_section(summary: RunSummary) -> str:
    """Champion and shadow side by side on the same labelled predictions (empty without one)."""
    comparison = summary.shadow
    if comparison is None:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{role} v{html.escape(scores.version)}</td>"
        f"<td>{_cell(scores.rmse, '{:,.0f}')}</td><td>{_cell(scores.mae, '{:,.0f}')}</td>"
        f"<td>{_cell(scores.coverage, '{:.1%}')}</td>"
        f"<td>{_cell(scores.mean_width, '{:,.0f}')}</td></tr>"
        for role, scores in (("champion", comparison.champion), ("shadow", comparison.shadow))
    )
    interval = (
        f"RMSE gain (champion - shadow) {_cell(comparison.rmse_gain, '{:,.0f}')}, "
        f"{comparison.confidence:.0%} paired-bootstrap interval "
        f"<span id='shadow-interval'>{_cell(comparison.rmse_gain_low, '{:,.0f}')} .. "
        f"{_cell(comparison.rmse_gain_high, '{:,.0f}')}</span> on {comparison.labelled} labels"
    )
    return (
        "<section id='shadow'><h2>Champion vs shadow on production labels</h2>"
        "<table><thead><tr><th>model</th><th>RMSE</th><th>MAE</th><th>interval coverage</th>"
        f"<th>mean interval width</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<p>{interval}</p><p id='shadow-reason'>{html.escape(comparison.reason)}</p></section>"
    )


def with_verdict(page: str, summary: RunSummary) -> str:
    """Evidently's HTML with the verdict block first and its share line made unambiguous."""

    def share_line(match: re.Match[str]) -> str:
        relation = "below" if match.group(1) else "at or above"
        return (
            f"Share of drifted features {relation} {match.group(2)} (the share rule only; "
            "the verdict at the top of the page also counts single-column faults)"
        )

    page = _EVIDENTLY_SHARE_LINE.sub(share_line, page)
    head = f"<style>{_STYLE}</style>"
    page = page.replace("</head>", f"{head}</head>", 1)
    body = re.search(r"<body[^>]*>", page)
    cut = body.end() if body else 0
    return page[:cut] + verdict_section(summary) + page[cut:]


def short_page(summary: RunSummary) -> str:
    """A page for runs without a full report: the verdict and what is missing."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring run</title>"
        f"<style>{_STYLE}</style></head><body>{verdict_section(summary)}</body></html>"
    )


def read_summaries(reports_dir: Path) -> list[tuple[str, RunSummary]]:
    """Every run's (directory name, summary), newest first; unreadable files are skipped."""
    summaries = []
    for path in reports_dir.glob(f"*/{SUMMARY_NAME}"):
        try:
            summary = RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        summaries.append((path.parent.name, summary))
    return sorted(summaries, key=lambda item: item[1].finished_at, reverse=True)


def _cell(value: Any, pattern: str = "{}") -> str:
    return "" if value is None else html.escape(pattern.format(value))


def card_directory(reports_dir: Path, version: str) -> Path:
    """Where the reports keep the model card of ``version`` (refreshed by each run)."""
    return reports_dir / CARDS_DIR / f"v{version}"


def _card_link(reports_dir: Path, version: str | None) -> str:
    if version is None or not (card_directory(reports_dir, version) / CARD_HTML_FILE).is_file():
        return ""
    return f"<a href='{CARDS_DIR}/v{html.escape(version)}/{CARD_HTML_FILE}'>model card</a>"


def write_index(reports_dir: Path) -> Path:
    rows = []
    for directory, s in read_summaries(reports_dir):
        colour = _VERDICT_COLOURS[s.verdict]
        share = s.drift.share if s.drift.judged else None
        rmse = s.performance.rmse if s.performance.rmse is not None else None
        rows.append(
            "<tr>"
            f"<td><a href='{html.escape(directory)}/{REPORT_NAME}'>"
            f"{s.finished_at:%Y-%m-%d %H:%M:%S}</a></td>"
            f"<td style='color:{colour};font-weight:bold'>{_cell(s.verdict.value)}</td>"
            f"<td>{_cell(s.model_version)} {_card_link(reports_dir, s.model_version)}</td>"
            f"<td>{_cell(s.rows.analysed)}</td>"
            f"<td>{_cell(s.labelled)}</td>"
            f"<td>{_cell(share, '{:.2f}')}</td>"
            f"<td>{_cell(rmse, '{:,.0f}')}</td>"
            f"<td>{_cell(s.performance.coverage, '{:.1%}')}</td>"
            f"<td>{_cell('; '.join(s.reasons))}</td>"
            f"<td><a href='{html.escape(directory)}/{SUMMARY_NAME}'>json</a></td>"
            "</tr>"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring runs</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "</style></head><body><h1>Housing-price monitoring runs</h1>"
        "<table><thead><tr><th>finished (UTC)</th><th>verdict</th><th>model version</th>"
        "<th>rows</th><th>labelled</th><th>drift share (features)</th><th>live RMSE</th>"
        "<th>interval coverage</th><th>reasons</th><th>summary</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    index = reports_dir / INDEX_NAME
    reports_dir.mkdir(parents=True, exist_ok=True)
    index.write_text(page, encoding="utf-8")
    return index
