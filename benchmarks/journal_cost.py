"""What the prediction log's write-ahead journal costs the model thread, per batch and per row.

    python -m benchmarks.journal_cost                   # fsync off (the default) and on

Appends real-sized rows (the configured dataset's features, as the service logs them) to a
journal in a temporary directory on the same disk as ``benchmarks/results``, the way the model
thread does: encode the batch, one ``write`` (and one ``fdatasync`` with ``journal_fsync``).
Reports the median microseconds per append and per row for several batch sizes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from housing.config import load_config
from housing.store.journal import Journal, encode_batch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BATCH_SIZES = (1, 8, 64, 500)


def _rows(features: dict[str, Any], count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {"prediction_id": str(uuid.uuid4()), "created_at": now, "model_version": "1",
         "bento_tag": "housing_price:abcdefghijklmnop", "protocol": "http",
         "features": features, "price": 212345.67, "price_low": 150000.0,
         "price_high": 290000.0, "latency_ms": 3.2}
        for _ in range(count)
    ]  # fmt: skip


def measure(features: dict[str, Any], batch: int, *, fsync: bool, repeats: int) -> float:
    """Median seconds of one journal append (encode + write [+ fdatasync]) of ``batch`` rows."""
    rows = _rows(features, batch)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RESULTS) as directory:
        journal = Journal(Path(directory), "bench", fsync=fsync).open()
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            journal.append(encode_batch(rows), len(rows), time.time())
            timings.append(time.perf_counter() - started)
        journal.close(keep_lock_file=False)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Journal cost (see module docstring)")
    parser.add_argument("--config", type=Path, default=ROOT / "configuration.yaml")
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args(argv)
    from serving.schema import example_record

    features = example_record(load_config(args.config))
    print("| fsync | rows per batch | us per append | us per row |")
    print("|---|---:|---:|---:|")
    for fsync in (False, True):
        repeats = args.repeats if not fsync else max(50, args.repeats // 20)
        for batch in BATCH_SIZES:
            seconds = measure(features, batch, fsync=fsync, repeats=repeats)
            print(
                f"| {'on' if fsync else 'off'} | {batch} | {seconds * 1e6:.1f} "
                f"| {seconds * 1e6 / batch:.2f} |"
            )


if __name__ == "__main__":
    main()
