"""Cost of one ``housing monitor`` run over a large prediction log (wall time, peak memory).

    .venv/bin/python benchmarks/monitor_cost.py --rows 100000

Builds an isolated workspace (a small champion trained on the California data, a SQLite log
filled with ``--rows`` predictions of held-out houses scored by that champion, 30% of them with
feedback), then runs the real CLI ``housing monitor --last ROWS`` as a subprocess and reports
its wall time and peak resident memory (``ru_maxrss`` of the child). Windows above
``monitoring.max_rows`` are sampled uniformly with a fixed seed, as configured.

``--history 1000`` then adds 1,000 past runs (copies of the last run's Evidently snapshot in the
workspace and of its summary in the reports directory) and measures again, so the two rows show
whether adding a run costs more as history grows (it must not: issue 13). The first row's
"past runs" counts the runs the measurement itself added before each later one.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def isolated_environ(workdir: Path, max_rows: int | None) -> dict[str, str]:
    from support.state import state_environ

    environ = state_environ(workdir) | {
        # The model's quality does not change the monitor's cost: train a small one quickly.
        "HOUSING_MODEL__PARAMS__MAX_ITER": "60",
        "HOUSING_SPLIT__CV_FOLDS": "2",
    }
    if max_rows:
        environ["HOUSING_MONITORING__MAX_ROWS"] = str(max_rows)
    return environ


def prepare(workdir: Path, rows: int, environ: dict[str, str]) -> None:
    from housing.config import load_config
    from housing.runtime import prepare_process

    settings = load_config(ROOT / "configuration.yaml", environ=environ)
    prepare_process(settings)
    from housing import bundle, registry
    from housing.store.database import open_log
    from monitoring.simulator import held_out_houses
    from support.backfill import log_scored_houses
    from training.train import run_training

    started = time.perf_counter()
    run_training(settings, reason="monitor cost benchmark")
    champion = registry.get_champion(settings)
    model = bundle.load_model(settings, champion)
    houses = held_out_houses(settings).sample(n=rows, replace=True, random_state=1)
    houses = houses.reset_index(drop=True)
    target = houses[settings.dataset.target].to_numpy()
    actual = [float(price) if i % 10 < 3 else None for i, price in enumerate(target)]
    engine = open_log(settings)
    log_scored_houses(
        engine,
        settings,
        model.pricing,
        houses[settings.feature_names],
        model_version=str(champion.version),
        bento_tag=champion.bento_tag,
        start=datetime.now(UTC) - timedelta(days=1),
        spacing=timedelta(days=1) / rows,
        actual_prices=actual,
    )
    engine.dispose()
    print(f"prepared {rows} logged predictions in {time.perf_counter() - started:.1f} s")


def measure(rows: int, environ: dict[str, str]) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit code) of one ``housing monitor`` subprocess.

    CPU time (user + system) is reported because on a shared machine wall time mostly measures
    the neighbours; on an idle machine the two are close (the monitor is single-threaded).
    """
    env = {**os.environ, **environ, "HOUSING_CONFIG": str(ROOT / "configuration.yaml")}
    command = [str(ROOT / ".venv/bin/housing"), "monitor", "--last", str(rows)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def add_history(workdir: Path, runs: int) -> None:
    """``runs`` past runs: the newest snapshot and summary copied under new run ids."""
    import uuid

    snapshots = sorted((workdir / "evidently").glob("*/snapshots/*.json"), key=os.path.getmtime)
    summaries = sorted((workdir / "reports").glob("*/summary.json"), key=os.path.getmtime)
    for _ in range(runs):
        shutil.copyfile(snapshots[-1], snapshots[-1].parent / f"{uuid.uuid4()}.json")
        past = workdir / "reports" / f"20200101T000000_{uuid.uuid4().hex[:8]}"
        past.mkdir()
        shutil.copyfile(summaries[-1], past / "summary.json")


def _report(label: str, rows: int, results: list[tuple[float, float, float, int]]) -> None:
    for seconds, cpu, peak, code in results:
        print(
            f"{label}: housing monitor over {rows} rows: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak {peak:.0f} MiB, exit {code}"
        )
    best = min(results)
    peak = max(result[2] for result in results)
    print(f"| {label} | {rows:,} | {best[0]:.1f} s | {best[1]:.1f} s | {peak:.0f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=None, help="override monitoring.max_rows")
    parser.add_argument("--history", type=int, default=0, help="add N past runs, measure again")
    parser.add_argument("--keep", action="store_true", help="keep the workspace directory")
    parser.add_argument("--workdir", type=Path, help="reuse a workspace kept by --keep")
    args = parser.parse_args()
    reuse = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="housing-monitor-cost-"))
    environ = isolated_environ(workdir, args.max_rows)
    try:
        if not reuse:
            prepare(workdir, args.rows, environ)
        results = [measure(args.rows, environ) for _ in range(args.runs)]
        past = len(list((workdir / "evidently").glob("*/snapshots/*.json")))
        history = []
        if args.history:
            add_history(workdir, args.history)
            past += args.history
            history = [measure(args.rows, environ) for _ in range(args.runs)]
    finally:
        if not (args.keep or reuse):
            shutil.rmtree(workdir, ignore_errors=True)
    machine = f"{platform.platform()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print("| workspace | rows | wall (best) | CPU (best) | peak RSS (max) |")
    print("|---|---|---|---|---|")
    _report(f"{past - args.history} past runs", args.rows, results)
    if history:
        _report(f"{past} past runs", args.rows, history)


if __name__ == "__main__":
    main()
