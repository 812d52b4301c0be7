"""``housing train``, ``models``, ``promote``, ``rollback`` and ``predict``. Expected failures (bad
data, unknown version, no champion) become one line on stderr with exit code 2; anything the
user cannot fix by changing input exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import fail, quiet_libraries, settings_of
from housing import exit_codes
from housing.config import ConfigError, Settings

console = Console()
# Piped output (scripts, CI logs) gets full table rows instead of an 80-column squeeze.
_PIPE_WIDTH = 200
if not console.is_terminal:
    console.width = _PIPE_WIDTH


@contextmanager
def _expected_failures(on_error: Callable[[], None] | None = None) -> Iterator[None]:
    """Turn the failures a user can act on into one line on stderr and an exit code.

    Bad data, an unknown version or "nothing to roll back" are input problems (2); a registry,
    store or file-system failure is exit 1. ``on_error`` runs first (e.g. stop a progress bar).
    """
    from mlflow.exceptions import MlflowException

    from housing import registry
    from housing.validation import DataValidationError

    codes: list[tuple[type[BaseException], int]] = [
        (DataValidationError, exit_codes.BAD_INPUT),
        (registry.UnknownVersion, exit_codes.BAD_INPUT),
        (registry.NothingToRollBack, exit_codes.BAD_INPUT),
        (registry.RegistryError, exit_codes.FAILURE),
        (MlflowException, exit_codes.FAILURE),
        (OSError, exit_codes.FAILURE),
    ]
    try:
        yield
    except tuple(kind for kind, _ in codes) as exc:
        if on_error is not None:
            on_error()
        code = next(code for kind, code in codes if isinstance(exc, kind))
        message = exc.message if isinstance(exc, MlflowException) else str(exc)
        fail(message.strip().splitlines()[0] if message.strip() else type(exc).__name__, code)


def _money(value: float | None, scale: float | None = None) -> str:
    """Whole units for dollar prices, cents for profiles priced in thousands (Boston).

    ``scale`` picks the precision from another number (a std shown next to its mean).
    """
    if value is None:
        return "-"
    reference = abs(value if scale is None else scale)
    return f"{value:,.0f}" if reference >= 1000 else f"{value:,.2f}"


def train(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Promote the new model even if it is not better.")
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why this model is trained (recorded in MLflow).")
    ] = "manual training",
) -> None:
    """Train, evaluate, log to MLflow, save to BentoML, and promote if better than the champion."""
    train_with_progress(settings_of(ctx), force=force, reason=reason)


def train_with_progress(settings: Settings, *, force: bool, reason: str) -> None:
    """Run the training with a progress bar and print its summary (also for ``housing serve``)."""
    from training.train import TRAINING_STEPS, run_training

    quiet_libraries()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    with progress:
        task = progress.add_task("starting", total=len(TRAINING_STEPS))
        started: list[str] = []

        def on_step(description: str) -> None:
            if started:
                progress.advance(task)
            started.append(description)
            progress.update(task, description=description)

        with _expected_failures(progress.stop):
            outcome = run_training(settings, force=force, reason=reason, on_step=on_step)
        progress.update(task, completed=len(TRAINING_STEPS), description="done")
    _print_summary(settings, outcome)


def _print_summary(settings, outcome) -> None:
    metrics = outcome.trained.metrics
    coverage = settings.intervals.coverage
    table = Table(title=f"{settings.dataset.name}: model version {outcome.registration.version}")
    table.add_column("metric")
    table.add_column("holdout", justify="right")
    table.add_column(f"{settings.split.cv_folds}-fold CV (mean ± std)", justify="right")
    for name in ("rmse", "mae"):
        table.add_row(
            name.upper(),
            _money(metrics[f"holdout_{name}"]),
            f"{_money(metrics[f'cv_{name}_mean'])}"
            f" ± {_money(metrics[f'cv_{name}_std'], metrics[f'cv_{name}_mean'])}",
        )
    table.add_row(
        "R2",
        f"{metrics['holdout_r2']:.4f}",
        f"{metrics['cv_r2_mean']:.4f} ± {metrics['cv_r2_std']:.4f}",
    )
    table.add_row(
        "MAPE",
        f"{metrics['holdout_mape']:.2%}",
        f"{metrics['cv_mape_mean']:.2%} ± {metrics['cv_mape_std']:.2%}",
    )
    table.add_row(
        f"interval coverage (target {coverage:.0%})", f"{metrics['holdout_coverage']:.2%}", ""
    )
    table.add_row("mean interval width", _money(metrics["holdout_mean_interval_width"]), "")
    console.print(table)
    registration = outcome.registration
    console.print(
        f"MLflow: {settings.mlflow.registered_model} v{registration.version}"
        f" (run {registration.run_id})"
    )
    console.print(f"BentoML: {registration.bento_tag}")
    verdict = (
        "[green]promoted to champion[/]" if outcome.decision.promote else "[yellow]challenger[/]"
    )
    console.print(f"{verdict}: {outcome.decision.reason}", highlight=False)
    console.print(f"total time: {outcome.seconds:.1f} s")


def models(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(help="Show one version: metrics and coverage per group.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list challengers the gate rejected.")
    ] = False,
) -> None:
    """List registered model versions with holdout metrics, aliases and BentoML tags."""
    from housing.registry import STATUS_REJECTED, list_versions

    settings = settings_of(ctx)
    quiet_libraries()
    if version is not None:
        _show_version(settings, version)
        return
    with _expected_failures():
        versions = list_versions(settings)
    if not versions:
        console.print("no model versions yet: run `housing train`")
        return
    hidden = [v for v in versions if v.status == STATUS_REJECTED and not v.aliases and not show_all]
    table = Table(title=f"registered model '{settings.mlflow.registered_model}'")
    for column in (
        "version",
        "stage",
        "aliases",
        "holdout RMSE",
        "MAE",
        "coverage",
        "created",
        "BentoML tag",
        "reason",
    ):
        table.add_column(
            column, justify="right" if column in {"holdout RMSE", "MAE", "coverage"} else "left"
        )
    for item in versions:
        if item in hidden:
            continue
        coverage = item.metrics.get("holdout_coverage")
        table.add_row(
            str(item.version),
            item.stage + (f" ({item.status})" if item.status == STATUS_REJECTED else ""),
            ",".join(item.aliases) or "-",
            _money(item.metrics.get("holdout_rmse")),
            _money(item.metrics.get("holdout_mae")),
            "-" if coverage is None else f"{coverage:.1%}",
            item.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            item.bento_tag + ("" if item.in_local_store else " (not in local store)"),
            item.reason,
        )
    console.print(table)
    if hidden:
        console.print(f"{len(hidden)} rejected challengers hidden (`housing models --all`)")


def _show_version(settings, version: str) -> None:
    """One version: its card's holdout/CV metrics and interval coverage per configured group."""
    from housing import bundle, registry

    with _expected_failures():
        loaded = bundle.load_model(settings, registry.get_version(settings, version))
    card = loaded.info
    console.print(
        f"version {loaded.version} ({loaded.bento_tag}), trained {card.get('trained_at', '?')}:"
        f" {card.get('reason', '')}",
        highlight=False,
    )
    holdout = card.get("holdout", {})
    console.print(
        f"holdout RMSE {_money(holdout.get('rmse'))}, MAE {_money(holdout.get('mae'))},"
        f" coverage {holdout.get('coverage', float('nan')):.1%},"
        f" mean width {_money(holdout.get('mean_interval_width'))}",
        highlight=False,
    )
    groups = card.get("conditional_coverage") or {}
    if not groups:
        console.print("no coverage per group recorded for this version")
        return
    table = Table(title=f"holdout coverage of the {loaded.pricing.coverage:.0%} intervals by group")
    for column in ("column", "group", "rows", "coverage", "mean width"):
        table.add_column(column, justify="left" if column in {"column", "group"} else "right")
    for column, values in groups.items():
        for label, row in values.items():
            table.add_row(
                column,
                label,
                str(row["rows"]),
                f"{row['coverage']:.1%}",
                _money(row["mean_interval_width"]),
            )
    console.print(table)


def prune(
    ctx: typer.Context,
    keep: Annotated[
        int, typer.Option("--keep", min=0, help="How many of the newest versions to keep.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be removed.")
    ] = False,
) -> None:
    """Remove old versions from MLflow and the BentoML store.

    The champion, the previous champion (rollback target) and any version whose model a Bento
    still packages are always kept, and the reason is printed.
    """
    from housing import registry

    settings = settings_of(ctx)
    quiet_libraries()
    with _expected_failures():
        plan = registry.plan_prune(settings, keep)
        for number, why in sorted(plan.keep.items(), reverse=True):
            console.print(f"keep version {number}: {why}", highlight=False)
        if not dry_run:
            registry.prune(settings, plan)
    verb = "would remove" if dry_run else "removed"
    removed = ", ".join(str(item.version) for item in plan.remove) or "nothing"
    console.print(f"{verb}: {removed}", highlight=False)


def promote(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Argument(help="Registered model version to make champion.")
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Recorded with the promotion.")
    ] = "manual promotion",
    from_shadow: Annotated[
        bool,
        typer.Option(
            "--from-shadow",
            help="Promote the shadow only if it surely beats the champion on production labels "
            "(retrain.confidence, retrain.shadow_min_labels, monitoring.window); else exit 2.",
        ),
    ] = False,
) -> None:
    """Make VERSION (or, with --from-shadow, the proven shadow) the champion; the service picks
    it up without a restart."""
    from housing import model_card, registry

    settings = settings_of(ctx)
    quiet_libraries()
    if from_shadow == (version is not None):
        fail("give either a VERSION or --from-shadow")
    with _expected_failures():
        if from_shadow:
            version, reason = _proven_shadow(settings)
        ref = registry.promote(settings, version, reason)
        if from_shadow:
            registry.clear_shadow(settings)
        model_card.refresh(settings, ref, engine=None)
    console.print(f"version {ref.version} ({ref.bento_tag}) is now the champion")


def _proven_shadow(settings: Settings) -> tuple[str, str]:
    """The shadow's version and the promotion reason, or one line and exit 2."""
    from housing.store.database import open_log
    from monitoring import shadow
    from monitoring.window import resolve_window

    engine = open_log(settings)
    try:
        decision = shadow.decide(settings, engine, resolve_window(settings))
    finally:
        engine.dispose()
    if not decision.promote or decision.shadow is None:
        fail(f"shadow not promoted: {decision.reason}")
    return str(decision.shadow.version), f"from shadow: {decision.reason}"


def rollback(ctx: typer.Context) -> None:
    """Give the champion role back to the previous champion."""
    from housing import registry

    settings = settings_of(ctx)
    quiet_libraries()
    with _expected_failures():
        ref = registry.rollback(settings)
    console.print(f"rolled back: version {ref.version} ({ref.bento_tag}) is the champion again")


shadow_app = typer.Typer(
    help="Score a second version beside the champion on live traffic (never answered).",
    no_args_is_help=True,
)


@shadow_app.command("start")
def shadow_start(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Registered model version to score in shadow.")],
) -> None:
    """Score VERSION beside the champion in every worker (from its next registry poll)."""
    from housing import registry

    settings = settings_of(ctx)
    quiet_libraries()
    with _expected_failures():
        ref = registry.set_shadow(settings, version)
    console.print(f"version {ref.version} ({ref.bento_tag}) is now the shadow")


@shadow_app.command("stop")
def shadow_stop(ctx: typer.Context) -> None:
    """Stop scoring a shadow (the logged shadow prices stay for `housing monitor`)."""
    from housing import registry

    settings = settings_of(ctx)
    quiet_libraries()
    with _expected_failures():
        ref = registry.clear_shadow(settings)
    console.print(f"shadow version {ref.version} stopped" if ref else "there was no shadow")


def predict(
    ctx: typer.Context,
    input_path: Annotated[Path, typer.Option("--input", "-i", help="CSV of houses to price.")],
    output_path: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")],
) -> None:
    """Price every house in a CSV with the champion: price, price_low, price_high.

    Rows that fail validation stay in the output with an `error` and no price; they are listed
    on stderr and the exit code is 2, so scripts notice.
    """
    from housing.validation import DataSource, summarize
    from training.scoring import score_csv

    settings = settings_of(ctx)
    quiet_libraries()
    with _expected_failures():
        result = score_csv(settings, input_path, output_path)
    console.print(
        f"priced {result.scored} of {result.rows} houses with model version {result.version}"
        f" -> {result.output}"
    )
    if result.issues:
        bad_rows = len({issue.row for issue in result.issues})
        fail(
            f"{bad_rows} rows failed validation and were not priced (see the 'error' column): "
            + summarize(DataSource.csv(input_path), result.issues),
            exit_codes.BAD_INPUT,
        )


def tune(
    ctx: typer.Context,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Most trials to run (default: tuning.trials).")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Start no trial after this many seconds (default: tuning.timeout_s)."
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option("--folds", help="CV folds of each trial (default: tuning.cv_folds)."),
    ] = None,
) -> None:
    """Search tuning.space by cross-validation (never the holdout); propose a config change.

    Every trial is an MLflow child run under one `tune` run. The best parameters are printed as
    a configuration.yaml snippet; the file is not changed and no model is registered.
    """
    from training.tuning import proposed_change
    from training.tuning import tune as run_tune

    # Checked here rather than with typer's min=: a bad value is one line, like every input error.
    for option, value, least in (
        ("--trials", trials, 1),
        ("--timeout", timeout, 1),
        ("--folds", folds, 2),
    ):
        if value is not None and value < least:
            fail(f"{option}: must be at least {least}, got {value:g}")
    given = {"trials": trials, "timeout_s": timeout, "cv_folds": folds}
    budget = {key: value for key, value in given.items() if value is not None}
    settings = settings_of(ctx)
    settings = settings.model_copy(update={"tuning": settings.tuning.model_copy(update=budget)})
    quiet_libraries()
    metric = settings.tuning.metric

    def on_trial(result) -> None:
        searched = ", ".join(
            f"{name}={result.params[name]:.4g}"
            if isinstance(result.params[name], float)
            else f"{name}={result.params[name]}"
            for name in settings.tuning.space
        )
        console.print(
            f"trial {result.number}: CV {metric.upper()} {_money(result.score(metric))}"
            f" ± {_money(result.metrics[f'{metric}_std'], result.score(metric))}  ({searched})",
            highlight=False,
        )

    with _expected_failures():
        try:
            result = run_tune(settings, on_trial=on_trial)
        except ConfigError as exc:
            fail(str(exc))
    best, configured = result.best, result.configured
    console.print(
        f"{len(result.trials)} trials, {result.folds}-fold CV, {result.seconds:.0f} s;"
        f" MLflow parent run {result.parent_run_id}",
        highlight=False,
    )
    baseline = (
        f"configured parameters, trial {configured.number}: {_money(configured.score(metric))}"
        if configured
        else "configured parameters lie outside tuning.space: not run"
    )
    console.print(
        f"best: trial {best.number}, CV {metric.upper()} {_money(best.score(metric))} ({baseline})",
        highlight=False,
    )
    change = proposed_change(settings, result)
    if change is None:
        console.print("no change proposed: the configured parameters scored best")
        return
    console.print(f"proposed change to {settings.source} (not written):", highlight=False)
    print(change)


# Registered by cli.main, in this order, each under its function's name.
COMMANDS = (train, models, prune, tune, promote, rollback, predict)
