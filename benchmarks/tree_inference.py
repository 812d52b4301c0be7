"""Model call time by batch size: scikit-learn's trees against treelite's GTIL (housing/trees.py).

    python -m benchmarks.tree_inference                  # the benchmark's champion
    python -m benchmarks.tree_inference --sizes 1 15 32 64 100

Loads the champion of the serving benchmark's state (trained there by ``benchmarks.serving``)
and times ``PricingModel.predict`` (features, price model, error model, intervals) on real
houses, best of ``--repeat`` calls per size, one numeric thread, with every batch scored by
scikit-learn and with every batch scored by GTIL. ``service.small_batch_rows`` should sit below
the size where GTIL stops winning.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from benchmarks.serving import ROOT, benchmark_environ


def best_of(call, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 15, 32, 48, 64, 100, 400])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    os.environ.update(benchmark_environ(ROOT / "configuration.yaml"))
    from housing.bundle import load_model
    from housing.config import load_config
    from housing.registry import get_champion
    from housing.runtime import prepare_process

    settings = load_config()
    prepare_process(settings, numeric_threads=1)
    champion = get_champion(settings)
    assert champion is not None
    pricing = load_model(settings, champion).pricing
    engines = {
        "scikit-learn": pricing.with_small_batch_trees(0, 1),
        "GTIL": pricing.with_small_batch_trees(10**9, 1),
    }
    houses = pd.read_csv(settings.dataset.path).sample(max(args.sizes), random_state=0)
    print(f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.2f}")
    print("| rows per call | scikit-learn ms | GTIL ms | GTIL / scikit-learn |")
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        rows = houses.head(size)
        prices = [engine.predict(rows).price for engine in engines.values()]
        np.testing.assert_allclose(prices[1], prices[0], rtol=1e-9)
        seconds = [best_of(lambda e=e, r=rows: e.predict(r), args.repeat) for e in engines.values()]
        print(f"| {size} | {seconds[0] * 1e3:.2f} | {seconds[1] * 1e3:.2f} | "
              f"{seconds[1] / seconds[0]:.2f} |")  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
