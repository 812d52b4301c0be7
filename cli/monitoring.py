"""``housing monitor``, ``housing retrain``, ``housing schedule``, ``housing simulate``,
``housing ui``: the closed loop from the command line.

Exit codes: 0 healthy or insufficient data, 3 retrain recommended (drift or degraded), 2 bad
input or configuration, 1 any other failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli.common import fail, settings_of, spinner
from housing import exit_codes
from housing.config import Settings

if TYPE_CHECKING:
    from housing.run_summary import RunSummary
    from monitoring.monitor import MonitorResult

console = Console()

BuildOption = Annotated[
    bool | None,
    typer.Option(
        "--build/--no-build",
        help="Build a Bento after a promotion (default: retrain.build_bento).",
        show_default=False,
    ),
]


def _summary_table(summary: RunSummary, report: Path) -> Table:
    """Only figures that were judged: no drift share for a window too small for drift."""
    table = Table(title=f"Monitoring run {summary.short_id}", show_header=False)
    drift, perf = summary.drift, summary.performance
    table.add_row("window", summary.window.description)
    table.add_row("model version", str(summary.model_version))
    table.add_row("rows analysed / labelled", f"{summary.rows.analysed} / {summary.labelled}")
    if drift.judged:
        table.add_row("drift share", f"{drift.share:.2f} ({drift.status.value})")
        if drift.drifted_features:
            table.add_row("drifted", ", ".join(drift.drifted_features))
    if perf.rmse is not None:
        base = "-" if perf.reference_rmse is None else f"{perf.reference_rmse:,.0f}"
        table.add_row("live RMSE (reference)", f"{perf.rmse:,.0f} ({base})")
    if perf.coverage is not None:
        table.add_row("interval coverage", f"{perf.coverage:.1%}")
    refusals = summary.refusals
    if refusals is not None and refusals.check is not None:
        table.add_row(
            "refused by validation",
            f"{refusals.refused} of {refusals.refused + refusals.logged} records "
            f"({refusals.check.value:.1%}, limit {refusals.check.limit:.0%})",
        )
    table.add_row("verdict", f"[bold]{summary.verdict.value}[/]")
    for reason in summary.reasons + summary.notes:
        table.add_row("", reason)
    table.add_row("report", str(report))
    return table


def monitor_once(
    settings: Settings,
    *,
    since: str | None,
    until: str | None,
    last: int | None,
    retrain: bool,
    build: bool | None,
    trigger: str = "manual",
) -> int:
    """Run the loop once (monitor; retrain and build when asked); return the exit code."""
    from monitoring.loop import monitor_and_act
    from monitoring.window import WindowError, resolve_window
    from training.retrain import RetrainError

    try:
        window = resolve_window(settings, since=since, until=until, last=last)
    except WindowError as exc:
        fail(str(exc), exit_codes.BAD_INPUT)
    with spinner() as progress:
        task = progress.add_task("monitoring", total=None)
        try:
            outcome = monitor_and_act(
                settings,
                window,
                trigger=trigger,
                retrain=retrain,
                build=build,
                progress=lambda message: progress.update(task, description=message),
                on_monitored=lambda result: _print_between(progress, result),
            )
        except RetrainError as exc:
            progress.stop()
            fail(str(exc), exc.exit_code)
    if outcome.retrain is not None:
        console.print(outcome.retrain.describe())
    return outcome.exit_code


def _print_between(progress: Progress, result: MonitorResult) -> None:
    """Show the monitor's table on stdout before retraining starts, spinner out of the way."""
    progress.stop()
    console.print(_summary_table(result.summary, result.report_path))
    progress.start()


def retrain_once(settings: Settings, *, reason: str, build: bool | None) -> int:
    """Retrain (and build the Bento when promoted); return the exit code."""
    from monitoring.loop import retrain_and_build
    from training.retrain import RetrainError

    with spinner() as progress:
        task = progress.add_task("retraining", total=None)
        try:
            outcome = retrain_and_build(
                settings,
                reason=reason,
                build=build,
                progress=lambda message: progress.update(task, description=message),
            )
        except RetrainError as exc:
            progress.stop()
            fail(str(exc), exc.exit_code)
    console.print(outcome.describe())
    return exit_codes.HEALTHY


def monitor(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Window start, ISO-8601 (UTC when no zone).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Window end (exclusive), ISO-8601.")] = None,
    last: Annotated[
        int | None, typer.Option(help="Only the latest N predictions (with or without times).")
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Retrain when the verdict is drift/degraded.")
    ] = False,
    build: BuildOption = None,
) -> None:
    """Compare a window of the prediction log with the champion's reference.

    Exit 0 healthy or insufficient data, 3 retrain recommended, 2 bad input, 1 failure.
    """
    settings = settings_of(ctx)
    try:
        code = monitor_once(
            settings, since=since, until=until, last=last, retrain=retrain, build=build
        )
    except typer.Exit:
        raise
    except Exception as exc:  # one line, never a traceback, for automation
        fail(f"monitor failed: {type(exc).__name__}: {exc}", exit_codes.FAILURE)
    raise typer.Exit(code)


def retrain(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why: recorded in MLflow.")] = "manual",
    build: BuildOption = None,
) -> None:
    """Train a challenger on base data + labelled production rows; promote if it wins."""
    settings = settings_of(ctx)
    try:
        code = retrain_once(settings, reason=reason, build=build)
    except typer.Exit:
        raise
    except Exception as exc:
        fail(f"retrain failed: {type(exc).__name__}: {exc}", exit_codes.FAILURE)
    raise typer.Exit(code)


def schedule(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Run once right away, then on time.")] = False,
) -> None:
    """Run the monitor on the configured interval/cron until SIGTERM (jobs in the log DB)."""
    import logging

    from monitoring.scheduler import run_until_signalled

    settings = settings_of(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def announce(scheduler: object) -> None:
        job = scheduler.get_job("housing-monitor")  # type: ignore[attr-defined]
        console.print(f"scheduler started; next monitor run at {job.next_run_time}")

    try:
        run_until_signalled(settings, settings.source, run_now=now, on_start=announce)
    except Exception as exc:
        fail(f"scheduler failed: {type(exc).__name__}: {exc}", exit_codes.FAILURE)


def ui(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port of the Evidently UI (default monitoring.ui_port).")
    ] = None,
) -> None:
    """Open the Evidently UI on the local workspace (127.0.0.1) with every past run.

    The command becomes ``evidently ui`` (exec, same PID): a SIGTERM or Ctrl-C meant for
    ``housing ui`` reaches the server itself, so nothing is left listening on the port.
    """
    import os
    import shutil
    import sys

    settings = settings_of(ctx)
    port = port or settings.monitoring.ui_port
    workspace = settings.monitoring.workspace_dir
    if not workspace.is_dir():
        fail(f"no Evidently workspace at {workspace} yet: run `housing monitor` first")
    executable = shutil.which("evidently") or str(Path(sys.executable).with_name("evidently"))
    console.print(
        f"Evidently UI on http://127.0.0.1:{port} (workspace {workspace}); "
        f"run index: {settings.monitoring.reports_dir / 'index.html'}"
    )
    command = [executable, "ui", "--workspace", str(workspace), "--host", "127.0.0.1"]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(executable, [*command, "--port", str(port)])
    except OSError as exc:
        fail(f"cannot start {executable}: {exc.strerror or exc}", exit_codes.FAILURE)


def simulate(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    scenario: Annotated[
        str, typer.Option(help="Named scenario from simulator.scenarios.")
    ] = "baseline",
    rows: Annotated[int, typer.Option(min=1, help="Houses to price.")] = 500,
    url: Annotated[str | None, typer.Option(help="Service URL (default from config).")] = None,
    feedback_fraction: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of houses given feedback.")
    ] = None,
    delay: Annotated[
        float | None, typer.Option(min=0.0, help="Seconds before feedback is sent.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the houses drawn.")] = None,
) -> None:
    """Send real traffic from held-out houses to a running service, then feedback."""
    from monitoring.simulator import SimulationError
    from monitoring.simulator import simulate as run_simulation

    settings = settings_of(ctx)
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"scenario {scenario}", total=None)
        try:
            result = run_simulation(
                settings,
                scenario,
                rows,
                url=url,
                feedback_fraction=feedback_fraction,
                feedback_delay_s=delay,
                seed=seed,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except SimulationError as exc:
            fail(str(exc), exit_codes.BAD_INPUT)
        except Exception as exc:
            fail(f"simulation failed: {type(exc).__name__}: {exc}", exit_codes.FAILURE)
    console.print(result.describe())
    if result.failed_requests:
        raise typer.Exit(exit_codes.FAILURE)


# Registered by cli.main, in this order, each under its function's name.
COMMANDS = (monitor, retrain, schedule, ui, simulate)
