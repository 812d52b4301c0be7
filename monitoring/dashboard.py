"""The project's panels on the Evidently dashboard, so ``housing ui`` opens on the verdict.

Evidently's dashboard plots metrics stored in snapshots, and the figures that decide a verdict
(the log-error checks, coverage against its floor, the refused share) are the project's, not
Evidently's. So each run adds them to its snapshot as :class:`MonitorFigure` metrics, one per
figure of the typed run summary (values only, never recomputed): :func:`figures_of` reads them
from :class:`housing.run_summary.RunSummary`, a one-row dataset carries them through an
Evidently report, and the report's results join the run's snapshot (``monitoring/tracking.py``).

:func:`ensure_panels` keeps the project's panels on the workspace project's dashboard: added
when missing, rewritten when their definition changed, left alone otherwise; panels a user made
in the UI are kept. It reads and writes only the dashboard file, so its cost does not grow with
the number of past runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from evidently.sdk.models import (
    DashboardModel,
    DashboardPanelPlot,
    DashboardTabModel,
    PanelMetric,
)
from evidently.sdk.panels import bar_plot_panel, line_plot_panel, text_panel

from housing.run_summary import Check, RunSummary, Status

FIGURE_METRIC = "MonitorFigure"  # its Evidently type: evidently:metric_v2:MonitorFigure


class MonitorFigure(SingleValueMetric):
    """One figure of a monitor run's summary, named by ``figure`` (the dashboard's label)."""

    figure: str


class MonitorFigureCalculation(SingleValueCalculation[MonitorFigure]):
    """Reads the figure from the run's one-row dataset of figures."""

    def calculate(self, context: Any, current_data: Any, reference_data: Any) -> Any:
        return self.result(float(current_data.column(self.metric.figure).data.iloc[0])), None

    def display_name(self) -> str:
        return f"monitor verdict figure: {self.metric.figure}"


def _check_figures(name: str, check: Check | None) -> dict[str, float | None]:
    if check is None:
        return {}
    return {
        f"{name}": check.value,
        f"{name}.low": check.low,
        f"{name}.high": check.high,
        f"{name}.limit": check.limit,
    }


def figures_of(summary: RunSummary) -> dict[str, float]:
    """The dashboard's figures of one run, straight from its summary; unjudged ones left out."""
    figures: dict[str, float | None] = {
        f"verdict.{status.value}": float(summary.verdict is status) for status in Status
    }
    figures["exit_code"] = summary.exit_code
    if summary.drift.judged:
        figures["drift_share"] = summary.drift.share
        figures["drift_share.limit"] = summary.drift.share_threshold
    checks = {check.name: check for check in summary.performance.checks}
    figures |= _check_figures("rms_log_error_ratio", checks.get("rms_log_error_ratio"))
    figures |= _check_figures("bias", checks.get("bias"))
    coverage = checks.get("coverage")
    figures |= _check_figures("coverage", coverage)
    if coverage is not None:
        figures["coverage.nominal"] = summary.performance.coverage_level
    refusals = summary.refusals
    if refusals is not None and refusals.check is not None:
        figures["refused_share"] = refusals.check.value
        figures["refused_share.limit"] = refusals.check.limit
    return {name: float(value) for name, value in figures.items() if value is not None}


def figures_snapshot(summary: RunSummary) -> Any:
    """An Evidently snapshot holding one :class:`MonitorFigure` result per figure."""
    figures = figures_of(summary)
    frame = pd.DataFrame([figures])
    definition = DataDefinition(numerical_columns=list(frame.columns))
    report = Report([MonitorFigure(figure=name) for name in figures])
    return report.run(Dataset.from_pandas(frame, data_definition=definition))


def _series(figure: str, legend: str) -> PanelMetric:
    return PanelMetric(legend=legend, metric=FIGURE_METRIC, metric_labels={"figure": figure})


@dataclass(frozen=True)
class _Line:
    figure: str
    legend: str


def _line_panel(title: str, description: str, lines: list[_Line]) -> DashboardPanelPlot:
    values = [_series(line.figure, line.legend) for line in lines]
    return line_plot_panel(title=title, values=values, description=description, size="half")


def project_panels() -> list[DashboardPanelPlot]:
    """The panels ``housing monitor`` keeps on the dashboard, in order."""
    return [
        text_panel(
            title="Housing-price monitoring: the verdict of each `housing monitor` run",
            description="Made by housing monitor from each run's summary (summary.json): the "
            "verdict, the figures that decided it and their limits. Reports with the reasons: "
            "var/reports/index.html.",
        ),
        bar_plot_panel(
            title="Verdict per run",
            values=[
                _series(f"verdict.{status.value}", status.value.replace("_", " "))
                for status in Status
            ],
            description="healthy; drift (inputs moved, a column fault or refused records: "
            "exit code 3); degraded (errors grew: exit code 3); insufficient data",
            size="full",
            stacked=True,
        ),
        _line_panel(
            "Drift share of the features",
            "share of configured features that drifted, against the share threshold",
            [_Line("drift_share", "drift share"), _Line("drift_share.limit", "threshold")],
        ),
        _line_panel(
            "Live error against the holdout (RMS log error ratio)",
            "RMS of log(predicted / actual) over the holdout's; degraded when the interval's "
            "lower bound passes the limit",
            [
                _Line("rms_log_error_ratio", "ratio"),
                _Line("rms_log_error_ratio.low", "lower bound"),
                _Line("rms_log_error_ratio.limit", "limit"),
            ],
        ),
        _line_panel(
            "Bias against the holdout (log error)",
            "mean log(predicted / actual) minus the holdout's; degraded when the interval lies "
            "wholly beyond +- the margin",
            [
                _Line("bias", "bias"),
                _Line("bias.low", "lower bound"),
                _Line("bias.high", "upper bound"),
                _Line("bias.limit", "margin"),
            ],
        ),
        _line_panel(
            "Interval coverage",
            "share of true prices inside the predicted interval; degraded when the upper bound "
            "is below the floor",
            [
                _Line("coverage", "coverage"),
                _Line("coverage.high", "upper bound"),
                _Line("coverage.limit", "floor"),
                _Line("coverage.nominal", "nominal level"),
            ],
        ),
        _line_panel(
            "Records refused by validation",
            "refused / (refused + logged) records in the window, against its limit",
            [_Line("refused_share", "refused share"), _Line("refused_share.limit", "limit")],
        ),
    ]


_TITLES = {panel.title for panel in project_panels()}
TAB_TITLE = "Monitoring verdict"


def _definition(panel: DashboardPanelPlot) -> dict[str, Any]:
    return panel.dict(exclude={"id"})


def ensure_panels(dashboard: DashboardModel) -> DashboardModel | None:
    """``dashboard`` with the project's panels (matched by title) added or brought up to
    date, ids and other panels kept; None when nothing changed (nothing to write)."""
    existing = {panel.title: index for index, panel in enumerate(dashboard.panels)}
    panels = list(dashboard.panels)
    changed = False
    for wanted in project_panels():
        index = existing.get(wanted.title)
        if index is None:
            panels.append(wanted)
            changed = True
        elif _definition(panels[index]) != _definition(wanted):
            panels[index] = wanted.copy(update={"id": panels[index].id})
            changed = True
    if not changed:
        return None
    tabs = list(dashboard.tabs)
    if tabs:  # a dashboard with tabs shows only the panels of a tab: ours get one of their own
        ours = [panel.id for panel in panels if panel.title in _TITLES]
        tab = next((t for t in tabs if t.title == TAB_TITLE), None)
        if tab is None:
            tabs.append(DashboardTabModel(title=TAB_TITLE, panels=ours))
        else:
            tabs[tabs.index(tab)] = tab.copy(update={"panels": ours})
    return DashboardModel(tabs=tabs, panels=panels)
