"""``housing monitor``, ``housing retrain``, ``housing schedule``, ``housing simulate``,
``housing ui``: the closed loop from the command line.

Exit codes: 0 healthy or insufficient data, 3 retrain recommended (drift or degraded), 2 bad
input or configuration, 1 any other failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from housing.cli import EXIT_BAD_INPUT, EXIT_FAILURE, fail, settings_of
from housing.config import Settings
from monitoring.summary import EXIT_RETRAIN, RunSummary

console = Console()

BuildOption = Annotated[
    bool | None,
    typer.Option(
        "--build/--no-build",
        help="Build a Bento after a promotion (default: retrain.build_bento).",
        show_default=False,
    ),
]


def _spinner() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _print_summary(summary: RunSummary, report: Path) -> None:
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
    table.add_row("verdict", f"[bold]{summary.verdict.value}[/]")
    for reason in summary.reasons + summary.notes:
        table.add_row("", reason)
    table.add_row("report", str(report))
    console.print(table)


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
    """Run the monitor (and retrain on exit code 3 when asked); return the exit code."""
    from monitoring.monitor import run_monitor
    from monitoring.window import WindowError, resolve_window

    try:
        window = resolve_window(settings, since=since, until=until, last=last)
    except WindowError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    with _spinner() as progress:
        task = progress.add_task("monitoring", total=None)
        result = run_monitor(
            settings,
            window,
            trigger=trigger,
            progress=lambda message: progress.update(task, description=message),
        )
    _print_summary(result.summary, result.report_path)
    if result.exit_code == EXIT_RETRAIN and retrain:
        reason = f"monitor {result.summary.run_id}: {'; '.join(result.verdict.reasons)}"
        retrain_code = retrain_once(settings, reason=reason, build=build)
        if retrain_code not in (0,):
            return retrain_code
    return result.exit_code


def retrain_once(settings: Settings, *, reason: str, build: bool | None) -> int:
    from training.retrain import RetrainError, retrain

    build = settings.retrain.build_bento if build is None else build

    with _spinner() as progress:
        task = progress.add_task("retraining", total=None)
        try:
            outcome = retrain(
                settings,
                reason=reason,
                build=build,
                progress=lambda message: progress.update(task, description=message),
            )
        except RetrainError as exc:
            fail(str(exc), exc.exit_code)
    console.print(outcome.describe())
    return 0


def register(app: typer.Typer) -> None:
    """Add the monitoring commands to ``app``."""

    @app.command()
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
            fail(f"monitor failed: {type(exc).__name__}: {exc}", EXIT_FAILURE)
        raise typer.Exit(code)

    @app.command(name="retrain")
    def retrain_command(
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
            fail(f"retrain failed: {type(exc).__name__}: {exc}", EXIT_FAILURE)
        raise typer.Exit(code)

    @app.command()
    def schedule(
        ctx: typer.Context,
        now: Annotated[
            bool, typer.Option("--now", help="Run once right away, then on time.")
        ] = False,
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
            fail(f"scheduler failed: {type(exc).__name__}: {exc}", EXIT_FAILURE)

    @app.command()
    def ui(
        ctx: typer.Context,
        port: Annotated[
            int | None, typer.Option(help="Port of the Evidently UI (default monitoring.ui_port).")
        ] = None,
    ) -> None:
        """Open the Evidently UI on the local workspace (127.0.0.1) with every past run."""
        import shutil
        import subprocess
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
        raise typer.Exit(subprocess.call([*command, "--port", str(port)]))

    @app.command()
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
                fail(str(exc), EXIT_BAD_INPUT)
            except Exception as exc:
                fail(f"simulation failed: {type(exc).__name__}: {exc}", EXIT_FAILURE)
        console.print(result.describe())
        if result.failed_requests:
            raise typer.Exit(EXIT_FAILURE)
