"""The project's dashboard panels and the figures they plot (no server: the models alone)."""

from __future__ import annotations

from evidently.sdk.models import DashboardModel, DashboardTabModel
from evidently.sdk.panels import text_panel

from housing.run_summary import RunSummary
from monitoring.dashboard import TAB_TITLE, ensure_panels, figures_of, project_panels
from tests.fixtures.monitoring import run_summary

TITLES = [panel.title for panel in project_panels()]


def test_panels_are_added_once_and_put_back_when_changed() -> None:
    first = ensure_panels(DashboardModel(tabs=[], panels=[]))
    assert first is not None and [p.title for p in first.panels] == TITLES
    assert ensure_panels(first) is None  # a second run writes nothing
    edited = first.copy(deep=True)
    edited.panels[1].subtitle = "changed by hand"
    edited.panels.pop(2)
    mine = text_panel(title="my own notes")
    edited.panels.append(mine)
    repaired = ensure_panels(edited)
    assert repaired is not None
    assert {p.title for p in repaired.panels} == {*TITLES, "my own notes"}
    restored = next(p for p in repaired.panels if p.title == TITLES[1])
    assert restored.id == first.panels[1].id and restored.subtitle != "changed by hand"
    assert ensure_panels(repaired) is None


def test_a_dashboard_with_tabs_gets_a_tab_of_the_projects_panels() -> None:
    mine = text_panel(title="my own notes")
    dashboard = DashboardModel(
        tabs=[DashboardTabModel(title="mine", panels=[mine.id])], panels=[mine]
    )
    updated = ensure_panels(dashboard)
    assert updated is not None
    tab = next(t for t in updated.tabs if t.title == TAB_TITLE)
    ours = {p.id for p in updated.panels if p.title in TITLES}
    assert set(tab.panels) == ours and len(ours) == len(TITLES)
    assert updated.tabs[0].panels == [mine.id]


def test_a_run_without_judged_figures_plots_only_its_verdict() -> None:
    summary = RunSummary.model_validate_json(run_summary("insufficient_data", ["too few rows"]))
    figures = figures_of(summary)
    assert figures["verdict.insufficient_data"] == 1.0 and figures["exit_code"] == 0.0
    assert sum(v for k, v in figures.items() if k.startswith("verdict.")) == 1.0
    assert not any(
        k.startswith(("drift_share", "coverage", "bias", "rms", "refused")) for k in figures
    )
