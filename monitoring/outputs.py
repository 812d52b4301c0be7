"""Files a run leaves behind: ``<reports_dir>/<run>/report.html`` + ``summary.json``, and an
``index.html`` listing every run with its verdict, so history is one click away without a server.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"
INDEX_NAME = "index.html"

_VERDICT_COLOURS = {
    "healthy": "#1b7f3b",
    "drift": "#b35c00",
    "degraded": "#b00020",
    "insufficient_data": "#555",
}


def run_directory(reports_dir: Path, summary: dict[str, Any]) -> Path:
    stamp = summary["finished_at"][:19].replace(":", "").replace("-", "")
    return reports_dir / f"{stamp}_{summary['run_id'][:8]}"


def write_run(
    reports_dir: Path, summary: dict[str, Any], snapshot: Any | None
) -> tuple[Path, Path]:
    """Write the HTML report and JSON summary of one run, then refresh the index."""
    directory = run_directory(reports_dir, summary)
    directory.mkdir(parents=True, exist_ok=True)
    report = directory / REPORT_NAME
    if snapshot is not None:
        snapshot.save_html(str(report))
    else:
        report.write_text(_empty_report(summary), encoding="utf-8")
    summary_path = directory / SUMMARY_NAME
    summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_index(reports_dir)
    return report, summary_path


def _empty_report(summary: dict[str, Any]) -> str:
    """A page for runs that had nothing to compare (empty window, no reference)."""
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in summary["reasons"] + summary["notes"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring run</title></head>"
        f"<body><h1>Monitoring run {html.escape(summary['run_id'])}</h1>"
        f"<p>Verdict: <b>{html.escape(summary['verdict'])}</b> "
        f"({html.escape(summary['window']['description'])}): no Evidently report, because:</p>"
        f"<ul>{reasons}</ul></body></html>"
    )


def read_summaries(reports_dir: Path) -> list[dict[str, Any]]:
    """Every run's summary, newest first; unreadable files are skipped, not fatal."""
    summaries = []
    for path in reports_dir.glob(f"*/{SUMMARY_NAME}"):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        summary["_dir"] = path.parent.name
        summaries.append(summary)
    return sorted(summaries, key=lambda s: s.get("finished_at", ""), reverse=True)


def _cell(value: Any, pattern: str = "{}") -> str:
    return "" if value is None else html.escape(pattern.format(value))


def write_index(reports_dir: Path) -> Path:
    rows = []
    for s in read_summaries(reports_dir):
        colour = _VERDICT_COLOURS.get(s.get("verdict", ""), "#000")
        drift, perf = s.get("drift", {}), s.get("performance", {})
        rows.append(
            "<tr>"
            f"<td><a href='{html.escape(s['_dir'])}/{REPORT_NAME}'>"
            f"{_cell(s.get('finished_at', '')[:19])}</a></td>"
            f"<td style='color:{colour};font-weight:bold'>{_cell(s.get('verdict'))}</td>"
            f"<td>{_cell(s.get('model_version'))}</td>"
            f"<td>{_cell(s.get('rows', {}).get('analysed'))}</td>"
            f"<td>{_cell(s.get('labelled'))}</td>"
            f"<td>{_cell(drift.get('share'), '{:.2f}')}</td>"
            f"<td>{_cell(perf.get('rmse'), '{:,.0f}')}</td>"
            f"<td>{_cell(perf.get('coverage'), '{:.1%}')}</td>"
            f"<td>{_cell('; '.join(s.get('reasons', [])))}</td>"
            f"<td><a href='{html.escape(s['_dir'])}/{SUMMARY_NAME}'>json</a></td>"
            "</tr>"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring runs</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        "</style></head><body><h1>Housing-price monitoring runs</h1>"
        "<table><thead><tr><th>finished (UTC)</th><th>verdict</th><th>model version</th>"
        "<th>rows</th><th>labelled</th><th>drift share</th><th>live RMSE</th>"
        "<th>interval coverage</th><th>reasons</th><th>summary</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    index = reports_dir / INDEX_NAME
    reports_dir.mkdir(parents=True, exist_ok=True)
    index.write_text(page, encoding="utf-8")
    return index
