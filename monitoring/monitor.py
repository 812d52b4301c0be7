"""One monitor run: read a window of the log, compare it with the reference of the model version
that made those predictions, judge, and publish the result everywhere it is looked for.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from housing import model_card, registry
from housing.bundle import write_card_files
from housing.config import Settings
from housing.run_summary import RefusalSummary, RefusedFigure, RowCounts, RunSummary, WindowSummary
from housing.store.database import open_log
from housing.store.monitor_status import record_run
from housing.store.refusals import refused_between
from monitoring.analysis import Analysis, analyse
from monitoring.outputs import card_directory, write_index, write_run
from monitoring.reference import ReferenceUnavailableError, reference_of
from monitoring.shadow import compare
from monitoring.tracking import add_to_workspace, log_to_mlflow
from monitoring.verdict import Verdict, decide
from monitoring.window import CREATED, VERSION, LogWindow, Window, read_window

Progress = Callable[[str], None]
logger = logging.getLogger(__name__)


@dataclass
class MonitorResult:
    summary: RunSummary
    verdict: Verdict
    report_path: Path
    summary_path: Path
    mlflow_run_id: str | None

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code


def _versions_newest_first(frame: pd.DataFrame) -> list[str]:
    latest = frame.groupby(VERSION)[CREATED].max().sort_values(ascending=False)
    return [str(v) for v in latest.index]


def pick_version(
    log: LogWindow, settings: Settings
) -> tuple[str | None, pd.DataFrame | None, pd.DataFrame]:
    """The newest model version in the window that has a reference, its rows and reference.

    Rows of other versions are left out (their predictions come from a different model, so
    comparing them to this reference would mix two models); each exclusion is noted.
    """
    frame = log.frame
    for version in _versions_newest_first(frame):
        try:
            reference = reference_of(settings, version)
        except ReferenceUnavailableError as exc:
            count = int((frame[VERSION] == version).sum())
            log.notes.append(f"{count} rows of model version {version} skipped: {exc}")
            continue
        current = frame[frame[VERSION] == version].reset_index(drop=True)
        others = len(frame) - len(current)
        if others:
            log.notes.append(f"{others} rows of other model versions left out of this run")
        return version, reference, current
    return None, None, frame.iloc[0:0]


def measure_refusals(engine: Engine, log: LogWindow, window: Window) -> RefusalSummary:
    """Records refused by validation while the window's predictions were logged.

    The span starts at ``--since`` (else the window's first logged prediction) and ends at
    ``--until`` (else now): refusals after the last logged prediction count too, so traffic
    that is refused entirely still shows. Logged records are every row the window read.
    """
    since = window.since or log.earliest
    reasons = refused_between(engine, since, window.until)
    refused = sum(r.records for r in reasons)
    sent = refused + log.total_rows
    return RefusalSummary(
        refused=refused,
        logged=log.total_rows,
        share=refused / sent if sent else None,
        since=since,
        until=window.until,
        reasons=[RefusedFigure(field=r.field, kind=r.kind, records=r.records) for r in reasons],
    )


def build_summary(
    log: LogWindow,
    window: Window,
    verdict: Verdict,
    *,
    version: str | None,
    analysed: int,
    trigger: str,
) -> RunSummary:
    frame = log.frame
    return RunSummary(
        run_id=str(uuid.uuid4()),
        finished_at=datetime.now(UTC),
        trigger=trigger,
        window=WindowSummary(
            description=window.describe(),
            since=window.since,
            until=window.until,
            last_n=window.last_n,
            first_prediction_at=frame[CREATED].min() if len(frame) else None,
            last_prediction_at=frame[CREATED].max() if len(frame) else None,
        ),
        model_version=version,
        rows=RowCounts(
            read=log.total_rows,
            analysed=analysed,
            unreadable=log.unreadable_rows,
            sampled_from=log.sampled_from,
        ),
        labelled=verdict.performance.labelled,
        invalid_feedback=log.invalid_feedback,
        drift=verdict.drift,
        performance=verdict.performance,
        verdict=verdict.status,
        exit_code=verdict.exit_code,
        reasons=verdict.reasons,
        notes=log.notes,
        refusals=verdict.refusals,
    )


def refresh_card(settings: Settings, version: str, engine: Engine) -> None:
    """Rewrite the model card of ``version`` with this run in its live history (BentoML store,
    MLflow run) and keep a copy next to the reports, linked from ``index.html``. A card that
    cannot be refreshed (registry down, version pruned) is logged, never fails the run."""
    reports_dir = settings.monitoring.reports_dir
    try:
        card = model_card.refresh(settings, registry.get_version(settings, version), engine)
    except Exception:
        logger.exception("model card of version %s not refreshed", version)
        return
    write_card_files(card_directory(reports_dir, version), card, model_card.render_html(card))
    write_index(reports_dir)


def run_monitor(
    settings: Settings,
    window: Window,
    *,
    trigger: str = "manual",
    progress: Progress | None = None,
) -> MonitorResult:
    step = progress or (lambda _message: None)
    engine = open_log(settings)
    step("reading the prediction log")
    log = read_window(engine, settings, window)
    if not log.total_rows:
        log.notes.append(f"no predictions in the window ({window.describe()})")
    version, reference, current = pick_version(log, settings)
    analysis: Analysis | None = None
    if version is not None and reference is not None and len(current):
        step(f"comparing {len(current)} rows of model version {version} with its reference")
        analysis = analyse(current, reference, settings)
    verdict = decide(analysis, len(current), settings, measure_refusals(engine, log, window))
    if version is None and log.total_rows:
        verdict.reasons.append("no model version in the window has a reference to compare with")
    summary = build_summary(
        log, window, verdict, version=version, analysed=len(current), trigger=trigger
    )
    if version is not None and len(current):
        step("comparing the champion with its shadow on the labelled rows")
        summary = summary.model_copy(update={"shadow": compare(engine, settings, current, version)})
    step("writing the report")
    snapshot = analysis.snapshot if analysis else None
    report_path, summary_path = write_run(settings.monitoring.reports_dir, summary, snapshot)
    step("publishing to MLflow and the Evidently workspace")
    add_to_workspace(settings, snapshot, summary)
    mlflow_run = log_to_mlflow(settings, summary, report_path.parent)
    record_run(engine, summary)
    if version is not None:
        step(f"refreshing the model card of version {version}")
        refresh_card(settings, version, engine)
    engine.dispose()
    return MonitorResult(summary, verdict, report_path, summary_path, mlflow_run)
