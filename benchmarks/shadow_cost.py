"""What the shadow's thread costs per call and per row, by how many rows one call prices.

    python -m benchmarks.shadow_cost

Times :meth:`serving.shadow.ShadowScorer.score_rows` -- the thread's unit of work: the records'
DataFrame, the benchmark champion's price and interval, and one insert into
``shadow_predictions`` of a SQLite log tuned like the service's -- on real dataset records, for
several call sizes. Reported as CPU time of the calling thread (what the shadow takes from the
champion; robust to other processes' load) and wall time, medians per call and per row. At 64
single-record clients a model batch holds about 15 rows: scoring each batch again costs the
15-row figure per 15 rows, gathering ``service.shadow.batch_rows`` (500) costs the 500-row one.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.serving import RESULTS, ROOT, benchmark_environ

SIZES = (15, 100, 500, 2000)
# Each size is repeated until about this many rows are priced, within these numbers of calls.
ROWS_PER_SIZE = 6000
MIN_CALLS, MAX_CALLS = 10, 60


def main() -> None:
    os.environ.update(benchmark_environ(ROOT / "configuration.yaml"))
    from housing.bundle import load_model
    from housing.config import load_config
    from housing.registry import get_champion
    from housing.runtime import prepare_process

    settings = load_config()
    prepare_process(settings)
    from housing.store.database import open_log
    from serving.metrics import serving_metrics
    from serving.prediction import prediction_ids
    from serving.shadow import ShadowScorer
    from support.records import dataset_records

    model = load_model(settings, get_champion(settings))
    records = dataset_records(settings, max(SIZES))
    with tempfile.TemporaryDirectory(dir=RESULTS) as work:
        storage = settings.storage.model_copy(update={"url": f"sqlite:///{Path(work) / 'log.db'}"})
        engine = open_log(settings.model_copy(update={"storage": storage}))
        scorer = ShadowScorer(settings, engine, serving_metrics(settings), warm_up=lambda m: None)
        load = os.getloadavg()
        print(f"load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")
        print("| rows per call | CPU ms per call | CPU us per row | wall ms per call |")
        print("|---:|---:|---:|---:|")
        for size in SIZES:
            cpu, wall = [], []
            for _ in range(min(MAX_CALLS, max(MIN_CALLS, ROWS_PER_SIZE // size))):
                ids = prediction_ids(size)
                started_cpu, started = time.thread_time(), time.perf_counter()
                scorer.score_rows(model, ids, records[:size])
                cpu.append(time.thread_time() - started_cpu)
                wall.append(time.perf_counter() - started)
            per_call = statistics.median(cpu)
            print(
                f"| {size} | {per_call * 1e3:.1f} | {per_call / size * 1e6:,.0f} "
                f"| {statistics.median(wall) * 1e3:.1f} |",
                flush=True,
            )
        scorer.close()
        engine.dispose()
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")


if __name__ == "__main__":
    main()
